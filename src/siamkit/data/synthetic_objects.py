"""Object patches to paste into video for synthetic tracking sequences: RGB + alpha.

Three sources, each split so that whole sources can be held out: Fashion-MNIST items
(colourised, their dark background made transparent), crops of real video frames, and
procedural textures (gratings in random colours, rectangle or ellipse).

>>> rng = np.random.default_rng(0)
>>> p = texture_patch(rng, 48, square=True)  # else a random aspect: one side is 48
>>> p.rgb.shape, p.alpha.shape
((48, 48, 3), (48, 48))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ObjectPatch:
    """An object to paste: ``rgb`` ``(h, w, 3)`` uint8 and ``alpha`` ``(h, w)`` float32 in [0, 1]."""

    rgb: np.ndarray
    alpha: np.ndarray
    source: str


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, 3).astype(np.float32)


def fmnist_patch(rng: np.random.Generator, item: np.ndarray, size: int) -> ObjectPatch:
    """A 28×28 Fashion-MNIST item upscaled to ``size`` px, mapped between two random colours."""
    v = cv2.resize(item.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_CUBIC)
    v = np.clip(v, 0, 1)
    lo, hi = _colour(rng), _colour(rng)
    rgb = lo * (1 - v[..., None]) + hi * v[..., None]
    # a little texture so the item is not flat
    rgb += rng.normal(0, 12, (size, size, 1)).astype(np.float32)
    alpha = np.clip(v * 4.0, 0, 1).astype(np.float32)
    return ObjectPatch(np.clip(rgb, 0, 255).astype(np.uint8), alpha, "fmnist")


def crop_patch(rng: np.random.Generator, frame: np.ndarray, size: int) -> ObjectPatch:
    """A random rectangular crop (aspect 0.6-1.6, longer side ``size``) of a real video frame."""
    h, w = frame.shape[:2]
    aspect = float(rng.uniform(0.6, 1.6))
    pw, ph = (
        (size, max(8, int(size / aspect))) if aspect >= 1 else (max(8, int(size * aspect)), size)
    )
    pw, ph = min(pw, w), min(ph, h)
    x = int(rng.integers(0, w - pw + 1))
    y = int(rng.integers(0, h - ph + 1))
    rgb = np.ascontiguousarray(frame[y : y + ph, x : x + pw])
    return ObjectPatch(rgb, np.ones((ph, pw), np.float32), "crop")


def texture_patch(rng: np.random.Generator, size: int, square: bool = False) -> ObjectPatch:
    """Gratings of random orientation and frequency in 2-3 random colours; ellipse or rectangle."""
    aspect = 1.0 if square else float(rng.uniform(0.6, 1.6))
    pw, ph = (
        (size, max(8, int(size / aspect))) if aspect >= 1 else (max(8, int(size * aspect)), size)
    )
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    field = np.zeros((ph, pw), np.float32)
    for _ in range(3):
        theta, freq = rng.uniform(0, np.pi), rng.uniform(0.05, 0.35)
        field += np.sin(freq * (xx * np.cos(theta) + yy * np.sin(theta)) + rng.uniform(0, 6.3))
    t = (field - field.min()) / (np.ptp(field) + 1e-6)
    c1, c2, c3 = _colour(rng), _colour(rng), _colour(rng)
    rgb = np.where(
        t[..., None] < 0.5,
        c1 + (c2 - c1) * 2 * t[..., None],
        c2 + (c3 - c2) * (2 * t[..., None] - 1),
    )
    alpha = np.ones((ph, pw), np.float32)
    if not square and rng.random() < 0.5:
        alpha = (
            ((xx - pw / 2 + 0.5) / (pw / 2)) ** 2 + ((yy - ph / 2 + 0.5) / (ph / 2)) ** 2 <= 1
        ).astype(np.float32)
    return ObjectPatch(np.clip(rgb, 0, 255).astype(np.uint8), alpha, "texture")
