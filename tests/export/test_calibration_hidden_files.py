"""Static int8 calibration on an image folder read every file under it with an image suffix,
hidden ones too: a folder copied from a Mac holds an AppleDouble ``._0.png`` beside each image,
which training skips and calibration died on ('is not a readable image'), and a hidden
``.ipynb_checkpoints/`` holds copies of images. It now reads the images training reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from siamkit.data.folders import ImageFolderDataset
from siamkit.export.calibration import calibration_images


def _folder(root: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / name / ".ipynb_checkpoints").mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
            (root / name / f"._{i}.png").write_bytes(b"\x00\x05\x16\x07" + bytes(80))
        copy = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)  # not one of the images above
        Image.fromarray(copy).save(root / name / ".ipynb_checkpoints" / "0-checkpoint.png")


def _rows(x: np.ndarray) -> list[bytes]:
    return sorted(row.tobytes() for row in np.ascontiguousarray(x, dtype=np.float32))


def test_calibration_reads_the_images_training_reads(tmp_path: Path) -> None:
    _folder(tmp_path / "photos")
    want, _ = ImageFolderDataset(tmp_path / "photos", input_shape=(3, 8, 8)).load_all()
    assert len(want) == 8
    got = calibration_images(tmp_path / "photos", (3, 8, 8), count=300)
    assert _rows(got) == _rows(want.numpy())
    some = calibration_images(tmp_path / "photos", (3, 8, 8), count=300, classes=["b"])
    assert _rows(some) == _rows(want.numpy()[4:])  # class b's four
