"""Pen trajectories shared by the synthetic handwriting generators (signatures, glyphs).

>>> catmull_rom(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]), per_unit=4.0).shape
(11, 2)
"""

from __future__ import annotations

import numpy as np

__all__ = ["catmull_rom"]


def catmull_rom(points: np.ndarray, per_unit: float) -> np.ndarray:
    """Catmull-Rom curve through ``points (P, 2)``, sampled about ``per_unit`` times per unit
    of length (at least twice per segment); ``(T, 2)``, ending on the last point."""
    if len(points) < 2:
        return points.copy()
    p = np.concatenate([points[:1], points, points[-1:]])
    seg = np.arange(1, len(p) - 2)  # segment i runs from p[i] to p[i + 1]
    n = np.maximum(2, (np.linalg.norm(p[seg + 1] - p[seg], axis=1) * per_unit).astype(int))
    i = np.repeat(seg, n)  # (T,) segment of each sample
    t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
    t = t[:, None]
    p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
    curve = 0.5 * (
        2 * p1
        + (-p0 + p2) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
    )
    return np.concatenate([curve, points[-1:]])
