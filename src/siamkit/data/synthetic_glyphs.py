"""A seeded generator of many-class handwritten glyphs: Omniglot's shape, synthetic.

Omniglot cannot be installed here, so many-class few-image tests and benchmarks use this. Each
class is a random glyph: 1-4 pen strokes, each a Catmull-Rom curve through 2-5 control points in
a unit box, later strokes often starting on an earlier one (as characters join). Each sample
redraws the glyph by hand: the control points jitter, the stroke width changes, and a small
affine transform (rotation, shear, scale, shift) moves it. Images are white ink on black,
``uint8``, 28 × 28 by default. Every figure computed on these images must say "synthetic".

Class ``c`` of seed ``s`` is the same glyph whatever ``n_classes`` is, and sample ``i`` of it the
same image, so a folder of 700 classes holds the 400 of a smaller one unchanged.

Example:
    >>> g = generate_glyphs(n_classes=3, per_class=4, seed=0)
    >>> g.images.shape, g.labels.tolist()
    ((12, 28, 28), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from siamkit.data.pen import catmull_rom

__all__ = [
    "GLYPH_CLASSES",
    "GLYPH_SIZE",
    "GlyphJitter",
    "SyntheticGlyphs",
    "generate_glyphs",
    "glyph_class_name",
    "random_glyph",
    "write_glyph_folder",
]

GLYPH_SIZE = 28
GLYPH_CLASSES = 700  # the registered source: 700 classes × 20 images (Omniglot-sized per class)


@dataclass(frozen=True)
class GlyphJitter:
    """How much one drawing of a glyph departs from its model (per-sample variation).

    Attributes:
        points: std of the control-point jitter, in glyph units (the glyph spans [-1, 1]).
        width: range of the stroke width, in pixels at 28 × 28 (scaled with ``size``).
        rotation: std of the rotation, degrees.
        shear: std of the horizontal shear.
        scale: range of the per-axis scale.
        shift: std of the shift, in pixels at 28 × 28.
    """

    points: float = 0.08
    width: tuple[float, float] = (1.2, 2.4)
    rotation: float = 8.0
    shear: float = 0.12
    scale: tuple[float, float] = (0.85, 1.1)
    shift: float = 1.0


class SyntheticGlyphs(NamedTuple):
    """Rendered glyphs: ``images (N, H, W) uint8``, ``labels (N,) int64`` (class ``c`` of the seed)."""

    images: np.ndarray
    labels: np.ndarray


def random_glyph(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A new glyph: control points ``(P, 2)`` in [-1, 1]² of each of its 1-4 pen strokes."""
    n_strokes = int(rng.choice([1, 2, 2, 3, 3, 4]))
    strokes: list[np.ndarray] = []
    for _ in range(n_strokes):
        n = int(rng.integers(2, 6))
        pts = rng.uniform(-1.0, 1.0, (n, 2))
        if strokes and rng.random() < 0.6:  # start on an earlier stroke, as characters join
            prev = strokes[int(rng.integers(len(strokes)))]
            pts[0] = prev[int(rng.integers(len(prev)))]
        strokes.append(pts)
    return tuple(strokes)


def _pen_path(
    strokes: tuple[np.ndarray, ...], jitter: GlyphJitter, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """Curve samples ``(T, 2)`` in pixels of one hand-drawn copy, and its stroke width."""
    unit = size / GLYPH_SIZE  # pixels of a 28-px glyph
    theta = np.deg2rad(rng.normal(0.0, jitter.rotation))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    shear = np.array([[1.0, rng.normal(0.0, jitter.shear)], [0.0, 1.0]])
    scale = np.diag(rng.uniform(*jitter.scale, 2)) * (0.33 * size)  # [-1, 1] -> ~66% of the side
    m = rot @ shear @ scale
    center = size / 2 - 0.5 + rng.normal(0.0, jitter.shift * unit, 2)
    curves = []
    for pts in strokes:
        moved = pts + rng.normal(0.0, jitter.points, pts.shape)
        curves.append(catmull_rom(moved, per_unit=0.6 * size) @ m.T + center)
    width = float(rng.uniform(*jitter.width)) * unit
    return np.concatenate(curves), width


def _render(paths: list[np.ndarray], widths: np.ndarray, size: int) -> np.ndarray:
    """Anti-aliased ink: each pixel's coverage by a pen of ``widths[i]`` along ``paths[i]``;
    ``(B, H, W) uint8``. One batched distance computation for all the drawings."""
    import torch

    t_max = max(len(p) for p in paths)
    padded = np.stack([np.concatenate([p, np.repeat(p[-1:], t_max - len(p), 0)]) for p in paths])
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    grid = torch.stack([xx.ravel(), yy.ravel()], dim=1).double()  # (H*W, 2) as (x, y)
    pts = torch.from_numpy(padded)  # (B, T, 2)
    d = torch.cdist(grid.expand(len(paths), -1, -1), pts).min(dim=2).values.numpy()  # (B, H*W)
    coverage = np.clip(widths[:, None] / 2 + 0.5 - d, 0.0, 1.0)
    return np.round(255.0 * coverage).astype(np.uint8).reshape(len(paths), size, size)


def generate_glyphs(
    n_classes: int,
    per_class: int = 20,
    size: int = GLYPH_SIZE,
    seed: int = 0,
    first_class: int = 0,
    jitter: GlyphJitter | None = None,
) -> SyntheticGlyphs:
    """``per_class`` drawings of each of the glyph classes ``first_class .. first_class + n_classes - 1``.

    Args:
        n_classes: how many classes; per_class: images of each.
        size: the square side in pixels (at least 8).
        seed: the alphabet: the same seed gives the same glyphs and drawings.
        first_class: the first class id (classes do not depend on how many are drawn).
        jitter: per-sample variation (:class:`GlyphJitter`).

    Raises:
        ValueError: a count below 1, or ``size`` below 8.
    """
    for name, v, low in (
        ("n_classes", n_classes, 1),
        ("per_class", per_class, 1),
        ("size", size, 8),
    ):
        if not isinstance(v, (int, np.integer)) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    if first_class < 0:
        raise ValueError(f"first_class must be >= 0, got {first_class}")
    jitter = jitter or GlyphJitter()
    images = np.empty((n_classes * per_class, size, size), np.uint8)
    labels = np.repeat(np.arange(first_class, first_class + n_classes), per_class).astype(np.int64)
    for row, c in enumerate(range(first_class, first_class + n_classes)):
        glyph = random_glyph(np.random.default_rng([seed, 0, c]))
        drawn = [
            _pen_path(glyph, jitter, size, np.random.default_rng([seed, 1, c, i]))
            for i in range(per_class)
        ]
        widths = np.array([w for _, w in drawn])
        images[row * per_class : (row + 1) * per_class] = _render(
            [p for p, _ in drawn], widths, size
        )
    return SyntheticGlyphs(images, labels)


def glyph_class_name(c: int) -> str:
    """The folder name of class ``c`` (``glyph0042``): sorted names keep the class order."""
    return f"glyph{c:04d}"


def write_glyph_folder(
    root: str | os.PathLike[str],
    n_classes: int,
    per_class: int = 20,
    size: int = GLYPH_SIZE,
    seed: int = 0,
    first_class: int = 0,
) -> Path:
    """Write ``root/glyph<c>/<i>.png`` (one folder per class) for ``siamkit train`` with
    ``data.dataset: image-folder``; returns ``root``.

    Raises:
        FileExistsError: ``root`` exists and is not an empty folder (nothing is overwritten).
    """
    from PIL import Image

    out = Path(root)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not an empty folder; give a new one")
    g = generate_glyphs(n_classes, per_class, size, seed, first_class)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.mkdir(parents=True, exist_ok=False)
    for k, (img, c) in enumerate(zip(g.images, g.labels)):
        folder = tmp / glyph_class_name(int(c))
        folder.mkdir(exist_ok=True)
        Image.fromarray(img, mode="L").save(folder / f"{k % per_class}.png")
    if out.exists():
        out.rmdir()
    tmp.replace(out)
    return out
