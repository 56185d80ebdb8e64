"""crop_folder writes its chips all or nothing (staged beside DEST, then moved in): the PNG read
back is the aligner's chip, and no temporary file is left behind."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from siamkit.applications.faces.align import FaceAligner
from siamkit.applications.faces.crop import crop_folder
from siamkit.applications.faces.detect import FaceDetector
from siamkit.applications.faces.pipeline import read_rgb


def test_chips_are_the_aligned_faces_with_no_temporaries_left(face_folder, tmp_path) -> None:
    old = os.umask(0o022)
    try:
        written, skipped = crop_folder(face_folder, tmp_path / "chips")
    finally:
        os.umask(old)
    files = sorted(p for p in (tmp_path / "chips").rglob("*") if p.is_file())
    assert written == len(files) == 6 - len(skipped) >= 4
    assert all(p.suffix == ".png" and not p.name.startswith(".") for p in files)
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in files)
    src = face_folder / "Eileen_Collins" / "Eileen_Collins_0001.jpg"
    chip = tmp_path / "chips" / "Eileen_Collins" / "Eileen_Collins_0001.png"
    image = read_rgb(src)
    want = FaceAligner().chip(image, FaceDetector("hog", 1)(image)[0])
    got = np.asarray(Image.open(chip))
    assert got.shape == (150, 150, 3) and np.array_equal(got, want)
