"""Aligned face chips of a folder of photos (one sub-folder per person), for training.

Example:
    >>> crop_folder(Path("people"), Path("chips"))  # doctest: +SKIP
    (118, [PosixPath('people/bob/blurry.jpg')])
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from PIL import Image

from siamkit.applications.faces.align import FaceAligner
from siamkit.applications.faces.detect import FaceDetector
from siamkit.applications.faces.pipeline import read_rgb
from siamkit.data.folders import find_images
from siamkit.image_decode import probe_image


def crop_folder(
    source: Path, dest: Path, detector: str = "hog", upsample: int = 1
) -> tuple[int, list[Path]]:
    """Write ``dest/<person>/<name>.png`` chips (150x150 RGB) of the largest face of each image
    under ``source/<person>/``; images in which no face is found are skipped and returned.

    All or nothing: every file's header is checked before any face is searched, and the chips
    are written into a hidden folder (in ``dest`` if it exists, else beside it) and moved into
    ``dest`` only once every image has been read, so a file that is not a readable image stops
    the crop with its :class:`~siamkit.image_decode.ImageReadError` and nothing written.

    Returns:
        the number of chips written and the images in which no face was found.
    """
    paths = find_images(source)
    if not paths:
        raise ValueError(f"no images found under {source}")
    for path in paths:  # a file that is not an image stops here, before minutes of detection
        probe_image(path)
    det, aligner = FaceDetector(detector, upsample), FaceAligner()
    # staged on dest's file system: inside dest when it exists (hidden, so never read as a
    # person), else beside it, in its nearest existing parent (dest's parent may be read-only)
    target = Path(dest).absolute()
    anchor = target if target.is_dir() else next(p for p in target.parents if p.is_dir())
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name or 'dest'}.crop-", dir=anchor))
    try:
        chips, skipped = [], []
        for path in paths:
            image = read_rgb(path)
            boxes = det(image)
            if not boxes:
                skipped.append(path)
                continue
            rel = path.relative_to(source).with_suffix(".png")
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(aligner.chip(image, boxes[0])).save(staging / rel, format="PNG")
            chips.append(rel)
        for rel in chips:  # a data set that can be made again: no fsync each
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staging / rel, dest / rel)  # a rename on one file system
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(chips), skipped
