"""Face detection with dlib: the HOG frontal-face detector (default) or the MMOD CNN detector.

Example:
    >>> boxes = FaceDetector("hog")(rgb_uint8_image)  # doctest: +SKIP
    >>> boxes[0].as_dict()  # doctest: +SKIP
    {'left': 175, 'top': 76, 'right': 265, 'bottom': 166, 'score': 1.16}
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from siamkit.applications.faces.resources import frontal_face_detector, import_dlib, model_file

DETECTORS = ("hog", "cnn")
DETECT_MAX_PIXELS = 1_000_000
"""Larger images are shrunk to this many pixels for detection only (boxes are mapped back, and
landmarks, chips and embeddings use the full image): a 12-megapixel photo is searched at about
1000x1000, where upsample 1 still finds faces of about 40 px, i.e. 140 px in the original."""


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
        """The box's area in pixels (0 for an empty box)."""
        return max(0, self.right - self.left + 1) * max(0, self.bottom - self.top + 1)

    def as_dict(self) -> dict[str, Any]:
        """The box as a JSON-ready dict, ``score`` rounded to 4 places."""
        return {**asdict(self), "score": round(float(self.score), 4)}

    def rectangle(self) -> Any:
        """The box as a ``dlib.rectangle``."""
        return import_dlib().rectangle(self.left, self.top, self.right, self.bottom)


def box_name(box: FaceBox | Mapping[str, Any]) -> str:
    """A face named by its box, ``box (left, top)-(right, bottom)`` (dlib's inclusive pixels),
    from a :class:`FaceBox` or its :meth:`~FaceBox.as_dict`: the one wording of ``siamkit face
    identify``'s lines and of a NaN face's refusal by the command line
    (:func:`~siamkit.applications.faces.recognize.identify_faces`) and the service.

    >>> box_name(FaceBox(175, 76, 265, 166, 1.16))
    'box (175, 76)-(265, 166)'
    """
    b = box if isinstance(box, Mapping) else asdict(box)
    return f"box ({b['left']}, {b['top']})-({b['right']}, {b['bottom']})"


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
    """dlib's detector, loaded once per process."""
    if method == "hog":
        return frontal_face_detector()
    return import_dlib().cnn_face_detection_model_v1(path)


def _shrink(image: np.ndarray, max_pixels: int | None) -> tuple[np.ndarray, float, float]:
    """``image`` resized (antialiased) to at most ``max_pixels``, with its x and y scales."""
    h, w = image.shape[:2]
    if max_pixels is None or h * w <= max_pixels:
        return image, 1.0, 1.0
    from PIL import Image

    s = math.sqrt(max_pixels / (h * w))
    nw, nh = max(1, int(w * s)), max(1, int(h * s))
    small = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BILINEAR))
    return np.ascontiguousarray(small), nw / w, nh / h


class FaceDetector:
    """Find every face in an RGB image; boxes largest first.

    Args:
        method: ``"hog"`` (dlib's HOG + linear SVM frontal-face detector, fast on CPU) or
            ``"cnn"`` (dlib's MMOD CNN detector: finds more faces and non-frontal ones, ~20x slower
            on CPU).
        upsample: times the image is doubled before detection; 1 finds faces down to about
            40 px (0: about 80 px). Upsampling costs about 4x per step.
        min_score: drop detections scoring below this (dlib's default is 0).
        max_pixels: images with more pixels are shrunk to this many for detection, and the boxes
            mapped back to the full image (``None``: never shrink). Detection time grows with
            pixels x 4^upsample; a run-time limit, not part of a saved model.
    """

    def __init__(
        self,
        method: str = "hog",
        upsample: int = 1,
        min_score: float = 0.0,
        max_pixels: int | None = DETECT_MAX_PIXELS,
    ) -> None:
        if method not in DETECTORS:
            raise ValueError(f"face detector is one of {', '.join(DETECTORS)}, got {method!r}")
        if not isinstance(upsample, int) or not 0 <= upsample <= 4:
            raise ValueError(f"upsample is an integer 0..4, got {upsample!r}")
        if max_pixels is not None and max_pixels < 4096:
            raise ValueError(f"max_pixels is at least 4096 (64x64) or None, got {max_pixels!r}")
        self.method, self.upsample, self.min_score = method, upsample, float(min_score)
        self.max_pixels = max_pixels
        self._detector = _load_detector(
            method, str(model_file("cnn_detector")) if method == "cnn" else ""
        )

    def config(self) -> dict[str, Any]:
        """``method``, ``upsample`` and ``min_score``, as a face model's config stores them."""
        return {"method": self.method, "upsample": self.upsample, "min_score": self.min_score}

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        """All faces in an ``(H, W, 3)`` uint8 RGB image, largest first (ties: higher score)."""
        img = check_rgb(image)
        h, w = img.shape[:2]
        small, sx, sy = _shrink(img, self.max_pixels)
        if self.method == "hog":
            rects, scores, _ = self._detector.run(small, self.upsample, self.min_score)
            found = list(zip(rects, scores))
        else:
            found = [(d.rect, d.confidence) for d in self._detector(small, self.upsample)]
            found = [(r, s) for r, s in found if s >= self.min_score]
        boxes = [  # pixel (left, top) .. (right, bottom) inclusive, mapped back to the full image
            FaceBox(
                max(0, math.floor(r.left() / sx)),
                max(0, math.floor(r.top() / sy)),
                min(w - 1, math.ceil((r.right() + 1) / sx) - 1),
                min(h - 1, math.ceil((r.bottom() + 1) / sy) - 1),
                float(s),
            )
            for r, s in found
        ]
        return sorted(boxes, key=lambda b: (-b.area, -b.score, b.left, b.top))
