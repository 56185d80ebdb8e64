"""dlib's 128-d face ResNet on aligned chips, in numpy: no torch, so a command that only compares
two photos (``siamkit face verify``) starts in a fraction of a second.

:class:`~siamkit.applications.faces.model.DlibFaceEncoder` (the siamkit model kind that galleries
and the service use) embeds through the same loaded network.

Example:
    >>> DlibDescriptor().embed_chips(chips).shape  # doctest: +SKIP
    (2, 128)
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from siamkit.applications.faces.align import CHIP_SIZE
from siamkit.applications.faces.resources import import_dlib, model_file

DLIB_THRESHOLD = 0.6
"""dlib's published same-person threshold on the Euclidean distance of its 128-d descriptors."""

EMBEDDING_DIM = 128


@functools.lru_cache(maxsize=2)
def _load_recognizer(path: str) -> Any:
    """dlib's face recognition ResNet, read once per process."""
    return import_dlib().face_recognition_model_v1(path)


class DlibDescriptor:
    """dlib's pretrained face encoder: aligned ``(F, 150, 150, 3)`` uint8 chips -> ``(F, 128)``,
    compared with the Euclidean distance against dlib's published threshold 0.6."""

    distance_name = "euclidean"
    embedding_dim = EMBEDDING_DIM

    def __init__(self) -> None:
        self._net = _load_recognizer(str(model_file("recognition")))
        self.threshold: float | None = DLIB_THRESHOLD

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Aligned ``(F, 150, 150, 3)`` uint8 chips -> ``(F, 128)`` float32 descriptors."""
        if (
            chips.ndim != 4
            or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3)
            or chips.dtype != np.uint8
        ):
            raise ValueError(
                f"chips are (F, {CHIP_SIZE}, {CHIP_SIZE}, 3) uint8, got {chips.shape} {chips.dtype}"
            )
        if chips.shape[0] == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        z = self._net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
        return np.asarray([list(v) for v in z], dtype=np.float32)

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> float:
        """Euclidean distance of two ``(128,)`` descriptors."""
        return float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))
