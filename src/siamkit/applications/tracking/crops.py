"""Square crops around a target, resized (one affine warp), as SiamFC takes them.

The exemplar covers the target plus a context margin ``p = context * (w + h)``: a square of side
``sqrt((w + p) * (h + p))`` resized to 127 px; the search region is the same square scaled by
``255 / 127``. Pixels outside the frame take the frame's mean colour.

>>> img = np.zeros((100, 100, 3), np.uint8)
>>> crop_square(img, (50.0, 50.0), 40.0, 127).shape
(127, 127, 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Vec = Sequence[float] | np.ndarray  # a box (4,) or a point (2,)


def context_side(box: Vec, context: float = 0.5) -> float:
    """Side in image pixels of the exemplar square for a ``(x, y, w, h)`` box."""
    w, h = float(box[2]), float(box[3])
    p = context * (w + h)
    return float(np.sqrt((w + p) * (h + p)))


def box_center(box: Vec) -> np.ndarray:
    """``(cx, cy)`` of an ``(x, y, w, h)`` box."""
    return np.array([box[0] + box[2] / 2, box[1] + box[3] / 2], dtype=np.float64)


def crop_square(
    image: np.ndarray,
    center: Vec,
    side: float,
    out_size: int,
    fill: Vec | None = None,
) -> np.ndarray:
    """The square of ``side`` px centred on ``center`` = ``(cx, cy)``, resized to ``out_size``.

    ``image`` ``(H, W, 3)`` uint8 -> ``(out_size, out_size, 3)`` uint8. Image pixel ``p`` maps to
    ``(p - center) * out_size / side + (out_size - 1) / 2`` (pixel centres, as SiamFC crops).
    """
    if side <= 0:
        raise ValueError(f"crop side must be positive, got {side}")
    s = out_size / side
    m = np.array(
        [[s, 0, (out_size - 1) / 2 - s * center[0]], [0, s, (out_size - 1) / 2 - s * center[1]]],
        dtype=np.float64,
    )
    if fill is None:
        fill = image.reshape(-1, image.shape[-1]).mean(axis=0)
    return cv2.warpAffine(  # type: ignore[no-any-return]
        image,
        m,
        (out_size, out_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(float(v) for v in fill),
    )


def to_tensor_batch(crops: Sequence[np.ndarray]) -> np.ndarray:
    """``K`` crops ``(S, S, 3)`` uint8 -> ``(K, 3, S, S)`` float32 in [0, 1]."""
    return np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
