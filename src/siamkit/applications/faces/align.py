"""5-point alignment: dlib's shape predictor, then ``dlib.get_face_chip`` to a 150x150 chip.

The chip is exactly what dlib's face recognition ResNet takes (``compute_face_descriptor(img,
shape)`` makes the same chip internally: size 150, padding 0.25).

Example:
    >>> chip = FaceAligner().chip(rgb_image, box)  # doctest: +SKIP
    >>> chip.shape  # doctest: +SKIP
    (150, 150, 3)
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from siamkit.applications.faces.detect import FaceBox, check_rgb
from siamkit.applications.faces.resources import import_dlib, model_file

CHIP_SIZE = 150
CHIP_PADDING = 0.25


@functools.lru_cache(maxsize=2)
def _load_predictor(path: str) -> Any:
    """dlib's shape predictor, read once per process."""
    return import_dlib().shape_predictor(path)


class FaceAligner:
    """Landmarks with dlib's 5-point shape predictor; aligned, cropped chips of ``size`` pixels."""

    def __init__(self, size: int = CHIP_SIZE, padding: float = CHIP_PADDING) -> None:
        if size < 16:
            raise ValueError(f"chip size must be at least 16 pixels, got {size}")
        self.size, self.padding = int(size), float(padding)
        self._dlib = import_dlib()
        self._predictor = _load_predictor(str(model_file("landmarks5")))

    def landmarks(self, image: np.ndarray, box: FaceBox) -> Any:
        """dlib's ``full_object_detection`` (5 points) of the face in ``box``."""
        return self._predictor(check_rgb(image), box.rectangle())

    def chip(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """The aligned ``(size, size, 3)`` uint8 chip of the face in ``box``."""
        img = check_rgb(image)
        shape = self._predictor(img, box.rectangle())
        return np.asarray(
            self._dlib.get_face_chip(img, shape, size=self.size, padding=self.padding)
        )

    def chips(self, image: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
        """``(F, size, size, 3)`` chips, one per box (``(0, size, size, 3)`` for none)."""
        if not boxes:
            return np.zeros((0, self.size, self.size, 3), dtype=np.uint8)
        return np.stack([self.chip(image, b) for b in boxes])
