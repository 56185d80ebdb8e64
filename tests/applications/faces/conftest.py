"""Offline face images (skimage, opencv-doc) and one dlib encoder shared by the face tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from siamkit.applications.faces import DlibFaceEncoder

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


@pytest.fixture(scope="session")
def encoder() -> DlibFaceEncoder:
    return DlibFaceEncoder()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()  # (512, 512, 3) uint8: one face, plus a mission patch


@pytest.fixture(scope="session")
def messi() -> np.ndarray:
    bgr = cv2.imread(str(OPENCV_DATA / "messi5.jpg"))
    assert bgr is not None, "opencv-doc's messi5.jpg is missing (apt-get install opencv-doc)"
    return np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.fixture(scope="session")
def megamind() -> dict[int, np.ndarray]:
    """Frames 0 (no face), 110 and 120 (the same cartoon face, moved) of Megamind.avi, RGB."""
    cap = cv2.VideoCapture(str(OPENCV_DATA / "Megamind.avi"))
    frames = {}
    for i in range(121):
        ok, frame = cap.read()
        assert ok, "opencv-doc's Megamind.avi is missing or unreadable"
        if i in (0, 110, 120):
            frames[i] = np.ascontiguousarray(frame[:, :, ::-1])
    cap.release()
    return frames


@pytest.fixture(scope="session")
def three_faces(astronaut, messi, megamind) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A 300x900 canvas with three face crops side by side, and each tile's (left, top, right, bottom)."""
    crops = [
        astronaut[30:230, 120:320],
        cv2.resize(messi[60:160, 195:295], (200, 200), interpolation=cv2.INTER_CUBIC),
        cv2.resize(megamind[120][110:390, 320:600], (200, 200), interpolation=cv2.INTER_AREA),
    ]
    canvas = np.full((300, 900, 3), 255, dtype=np.uint8)
    tiles = []
    for k, crop in enumerate(crops):
        left = 300 * k + 50
        canvas[50:250, left : left + 200] = crop
        tiles.append((left, 50, left + 199, 249))
    return canvas, tiles


@pytest.fixture(scope="session")
def face_folder(tmp_path_factory, astronaut, messi, megamind):
    """An LFW-style folder: three 'people' with two images each (the second one mirrored)."""
    root = tmp_path_factory.mktemp("lfw")
    people = {"Eileen_Collins": astronaut, "Lionel_Messi": messi, "Mega_Mind": megamind[110]}
    for name, img in people.items():
        (root / name).mkdir()
        Image.fromarray(img).save(root / name / f"{name}_0001.jpg")
        Image.fromarray(np.ascontiguousarray(img[:, ::-1])).save(root / name / f"{name}_0002.jpg")
    return root
