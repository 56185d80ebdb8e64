"""Aligned face chips of a folder of photos (one sub-folder per person), for training.

Example:
    >>> crop_folder(Path("people"), Path("chips"))  # doctest: +SKIP
    (118, [PosixPath('people/bob/blurry.jpg')])
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from siamkit.applications.faces.align import FaceAligner
from siamkit.applications.faces.detect import FaceDetector
from siamkit.applications.faces.pipeline import read_rgb
from siamkit.atomic import atomic_path
from siamkit.data.folders import find_images


def crop_folder(
    source: Path, dest: Path, detector: str = "hog", upsample: int = 1
) -> tuple[int, list[Path]]:
    """Write ``dest/<person>/<name>.png`` chips (150x150 RGB) of the largest face of each image
    under ``source/<person>/``. Each chip is written to a temporary file and renamed.

    Returns:
        the number of chips written and the images in which no face was found.
    """
    paths = find_images(source)
    if not paths:
        raise ValueError(f"no images found under {source}")
    det, aligner = FaceDetector(detector, upsample), FaceAligner()
    written, skipped = 0, []
    for path in paths:
        image = read_rgb(path)
        boxes = det(image)
        if not boxes:
            skipped.append(path)
            continue
        out = dest / path.relative_to(source).with_suffix(".png")
        with atomic_path(out, suffix=".png", durable=False) as tmp:  # a data set: no fsync each
            Image.fromarray(aligner.chip(image, boxes[0])).save(tmp, format="PNG")
        written += 1
    return written, skipped
