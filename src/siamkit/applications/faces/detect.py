"""Face detection with dlib: the HOG frontal-face detector (default) or the MMOD CNN detector.

Example:
    >>> boxes = FaceDetector("hog")(rgb_uint8_image)  # doctest: +SKIP
    >>> boxes[0].as_dict()  # doctest: +SKIP
    {'left': 175, 'top': 76, 'right': 265, 'bottom': 166, 'score': 1.16}
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from siamkit.applications.faces.resources import import_dlib, model_file

DETECTORS = ("hog", "cnn")


@dataclass(frozen=True)
class FaceBox:
    """A detected face: pixel box (``right``/``bottom`` inclusive, as dlib reports) and score.

    ``score`` is the HOG detector's SVM score or the CNN detector's confidence (different scales).
    """

    left: int
    top: int
    right: int
    bottom: int
    score: float

    @property
    def area(self) -> int:
        return max(0, self.right - self.left + 1) * max(0, self.bottom - self.top + 1)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score": round(float(self.score), 4)}

    def rectangle(self) -> Any:
        """The box as a ``dlib.rectangle``."""
        return import_dlib().rectangle(self.left, self.top, self.right, self.bottom)


def check_rgb(image: Any) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB array (contiguous, as dlib needs), or a clear error."""
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"a face image is an (H, W, 3) uint8 numpy array, got {type(image).__name__}"
        )
    if image.dtype != np.uint8:
        raise TypeError(f"a face image must be uint8 RGB (0-255), got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"a face image is shaped (H, W, 3), got {image.shape}")
    return np.ascontiguousarray(image)


@functools.lru_cache(maxsize=2)
def _load_detector(method: str, path: str) -> Any:
    """dlib's detector, built once per process (the HOG one takes about a second to build)."""
    dlib = import_dlib()
    if method == "hog":
        return dlib.get_frontal_face_detector()
    return dlib.cnn_face_detection_model_v1(path)


class FaceDetector:
    """Find every face in an RGB image; boxes largest first.

    Args:
        method: ``"hog"`` (dlib's HOG + linear SVM frontal-face detector, fast on CPU) or
            ``"cnn"`` (dlib's MMOD CNN detector: finds more faces and non-frontal ones, ~20x slower
            on CPU).
        upsample: times the image is doubled before detection; 1 finds faces down to about
            40 px (0: about 80 px). Upsampling costs about 4x per step.
        min_score: drop detections scoring below this (dlib's default is 0).
    """

    def __init__(self, method: str = "hog", upsample: int = 1, min_score: float = 0.0) -> None:
        if method not in DETECTORS:
            raise ValueError(f"face detector is one of {', '.join(DETECTORS)}, got {method!r}")
        if not isinstance(upsample, int) or not 0 <= upsample <= 4:
            raise ValueError(f"upsample is an integer 0..4, got {upsample!r}")
        self.method, self.upsample, self.min_score = method, upsample, float(min_score)
        self._detector = _load_detector(
            method, str(model_file("cnn_detector")) if method == "cnn" else ""
        )

    def config(self) -> dict[str, Any]:
        return {"method": self.method, "upsample": self.upsample, "min_score": self.min_score}

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        """All faces in an ``(H, W, 3)`` uint8 RGB image, largest first (ties: higher score)."""
        img = check_rgb(image)
        h, w = img.shape[:2]
        if self.method == "hog":
            rects, scores, _ = self._detector.run(img, self.upsample, self.min_score)
            found = list(zip(rects, scores))
        else:
            found = [(d.rect, d.confidence) for d in self._detector(img, self.upsample)]
            found = [(r, s) for r, s in found if s >= self.min_score]
        boxes = [
            FaceBox(
                max(0, r.left()),
                max(0, r.top()),
                min(w - 1, r.right()),
                min(h - 1, r.bottom()),
                float(s),
            )
            for r, s in found
        ]
        return sorted(boxes, key=lambda b: (-b.area, -b.score, b.left, b.top))
