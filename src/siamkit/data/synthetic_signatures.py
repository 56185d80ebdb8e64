"""A seeded generator of synthetic handwritten signatures: genuine, skilled and random forgeries.

No signature corpus (CEDAR, GPDS, BHSig) can be installed here, so tests and benchmarks use this.
Each writer has a "name": a cursive pen trajectory through letter-like control points, written
with the writer's own slant, size, letter width, speed and pen pressure. A genuine sample re-writes
that trajectory with natural variation (control-point jitter, a small affine change, different
timing and pressure). A skilled forgery copies the shape with another hand: the forger's slant
mixed in, wrong letter proportions, a slow and even (thicker, less pressure-modulated) stroke, a
tremor along the line and ink blobs where the forger hesitated. Random forgeries are other
writers' genuine signatures. Every figure computed on these images must say "synthetic".

Images are ``uint8`` grayscale, dark ink on light paper, ``155 × 220`` by default (SigNet's size).

Example:
    >>> data = generate_signatures(n_writers=3, n_genuine=4, n_forged=2, seed=0)
    >>> data.images.shape, int(data.forged.sum())
    ((18, 155, 220), 6)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from siamkit.atomic import atomic_path, atomic_write
from siamkit.data.pen import catmull_rom

try:
    import cv2
except ImportError as err:  # pragma: no cover - the extra is missing
    raise ImportError(
        "signature images need OpenCV: pip install 'siamkit[signatures]' (opencv-python-headless)"
    ) from err

__all__ = [
    "SYNTHETIC_MARKER",
    "SyntheticSignatures",
    "WriterStyle",
    "generate_signatures",
    "is_synthetic_folder",
    "write_signature_folders",
]

SYNTHETIC_MARKER = "SYNTHETIC"
"""The file :func:`write_signature_folders` leaves in its folder, so that every figure computed
on the folder (or on a copy that keeps the file) says "synthetic", as ``synthetic:N`` does."""

_SUPER = 2  # supersampling factor of the renderer (anti-aliasing)


@dataclass(frozen=True)
class WriterStyle:
    """How one hand writes: the shape of its name and the motor habits it writes it with."""

    strokes: tuple[np.ndarray, ...]  # control points (P, 2) per pen-down stroke, letter units
    slant: float  # horizontal shear (x += slant * y)
    aspect: float  # letter width / height
    pen_width: float  # stroke width in pixels at average pressure
    speed: float  # pen speed; faster = thinner, more pressure modulation
    pressure_var: float  # how strongly pressure varies along the stroke


class SyntheticSignatures(NamedTuple):
    """Rendered signatures: ``images (N, H, W) uint8``, ``writer (N,)`` ids, ``forged (N,)`` bool."""

    images: np.ndarray
    writer: np.ndarray
    forged: np.ndarray


def _letter(rng: np.random.Generator, x0: float) -> np.ndarray:
    """3-5 control points of one letter-like loop starting at ``x0``; y in about [-1, 1.6]."""
    n = int(rng.integers(3, 6))
    xs = x0 + np.sort(rng.uniform(0.0, 1.0, n)) * rng.uniform(0.7, 1.3)
    ys = rng.uniform(-0.9, 0.9, n)
    if rng.random() < 0.3:  # ascender or descender
        ys[int(rng.integers(n))] = rng.choice([1.6, -1.5])
    return np.stack([xs, ys], axis=1)


def random_style(rng: np.random.Generator) -> WriterStyle:
    """A new writer: a name of 4-7 letters in 1-3 pen-down strokes, and motor habits."""
    n_letters = int(rng.integers(4, 8))
    letters = [_letter(rng, 1.05 * i) for i in range(n_letters)]
    cuts = sorted(rng.choice(np.arange(1, n_letters), size=int(rng.integers(0, 3)), replace=False))
    groups = np.split(np.arange(n_letters), cuts)
    strokes = [np.concatenate([letters[i] for i in g]) for g in groups if len(g)]
    if rng.random() < 0.5:  # an underline flourish
        strokes.append(np.array([[0.0, -1.8], [n_letters * 0.5, -2.0], [n_letters * 1.05, -1.6]]))
    return WriterStyle(
        strokes=tuple(strokes),
        slant=float(rng.uniform(-0.45, 0.45)),
        aspect=float(rng.uniform(0.7, 1.3)),
        pen_width=float(rng.uniform(1.6, 3.2)),
        speed=float(rng.uniform(0.6, 1.4)),
        pressure_var=float(rng.uniform(0.2, 0.5)),
    )


@dataclass(frozen=True)
class _Hand:
    """One act of writing: how far it departs from the writer's model of the name."""

    jitter: float  # control-point noise, letter units
    proportion: float  # log-normal sigma of per-letter width / height errors
    slant: float
    aspect: float
    pen_width: float
    speed: float
    pressure_var: float
    tremor: float  # pixels of wobble along the line
    blobs: int  # hesitation blobs


def _trajectory(style: WriterStyle, hand: _Hand, rng: np.random.Generator) -> list[np.ndarray]:
    """Pen paths ``(T, 3)`` (x, y, width) per stroke, in letter units before placement."""
    paths = []
    for pts in style.strokes:
        pts = pts + rng.normal(0.0, hand.jitter, pts.shape)
        if hand.proportion > 0:  # wrong proportions: stretch letters unevenly
            dx = np.diff(pts[:, 0]) * np.exp(rng.normal(0.0, hand.proportion, len(pts) - 1))
            pts[1:, 0] = pts[0, 0] + dx.cumsum()
            pts[:, 1] *= np.exp(rng.normal(0.0, hand.proportion, len(pts)))
        curve = catmull_rom(pts, per_unit=40.0)
        step = np.linalg.norm(np.diff(curve, axis=0, prepend=curve[:1]), axis=1)
        turn = np.abs(np.gradient(np.unwrap(np.arctan2(*np.gradient(curve, axis=0).T[::-1]))))
        velocity = hand.speed / (1.0 + 3.0 * turn) * (0.5 + step / (step.mean() + 1e-9))
        phase = rng.uniform(0, 2 * np.pi)
        pressure = 1.0 + hand.pressure_var * (
            np.sin(np.linspace(0, rng.uniform(3, 8), len(curve)) + phase) - (velocity - 1.0)
        )
        width = hand.pen_width * np.clip(pressure, 0.35, 1.8) / np.sqrt(hand.speed)
        paths.append(np.column_stack([curve, width]))
    return paths


def _place(
    paths: list[np.ndarray], hand: _Hand, size: tuple[int, int], rng: np.random.Generator
) -> list[np.ndarray]:
    """Slant, rotate, scale and position the paths on a ``size`` canvas (pixels)."""
    theta = rng.normal(0.0, 0.03)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    shear = np.array([[hand.aspect, hand.slant], [0.0, -1.0]])  # image y grows downwards
    xy = [p[:, :2] @ (rot @ shear).T for p in paths]
    allp = np.concatenate(xy)
    lo, hi = allp.min(0), allp.max(0)
    h, w = size
    scale = min((w * 0.8) / (hi[0] - lo[0] + 1e-6), (h * 0.7) / (hi[1] - lo[1] + 1e-6))
    scale *= rng.uniform(0.75, 1.0)
    offset = np.array([w, h]) / 2 - scale * (lo + hi) / 2 + rng.normal(0.0, 0.04, 2) * [w, h]
    out = []
    for p, q in zip(paths, xy):
        pix = q * scale + offset
        if hand.tremor > 0:
            t = np.arange(len(pix))
            wob = np.stack([np.sin(t * rng.uniform(0.15, 0.4) + rng.uniform(0, 6)) for _ in "xy"])
            pix = pix + hand.tremor * (wob.T + rng.normal(0, 0.5, pix.shape))
        out.append(np.column_stack([pix, p[:, 2]]))
    return out


def _render(
    paths: list[np.ndarray], hand: _Hand, size: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Draw the paths as round-capped ink on paper; returns ``(H, W) uint8``."""
    h, w = size
    ink = np.zeros((h * _SUPER, w * _SUPER), np.uint8)
    for p in paths:
        pts = np.round(p[:, :2] * _SUPER).astype(np.int32)
        thick = np.maximum(1, (p[1:, 2] * _SUPER).astype(int))  # per segment
        cuts = np.flatnonzero(np.diff(thick)) + 1  # draw runs of equal thickness at once
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(thick)]):
            run = pts[a : b + 1].reshape(-1, 1, 2)
            cv2.polylines(ink, [run], False, 255, int(thick[a]), cv2.LINE_8)
    all_pts = np.concatenate(paths)
    for _ in range(hand.blobs):
        x, y, width = all_pts[int(rng.integers(len(all_pts)))]
        r = max(2, int(width * _SUPER * rng.uniform(1.0, 1.6)))
        cv2.circle(ink, (int(x * _SUPER), int(y * _SUPER)), r, 255, -1)
    coverage = cv2.resize(ink, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    paper = rng.uniform(225, 250) + rng.normal(0.0, 4.0, (h, w))
    darkness = rng.uniform(150, 200)
    return np.clip(paper - darkness * coverage, 0, 255).astype(np.uint8)


def _genuine_hand(style: WriterStyle, rng: np.random.Generator) -> _Hand:
    return _Hand(
        jitter=0.035,
        proportion=0.0,
        slant=style.slant + rng.normal(0.0, 0.03),
        aspect=style.aspect * np.exp(rng.normal(0.0, 0.04)),
        pen_width=style.pen_width * np.exp(rng.normal(0.0, 0.08)),
        speed=style.speed * np.exp(rng.normal(0.0, 0.08)),
        pressure_var=style.pressure_var,
        tremor=0.0,
        blobs=0,
    )


def _forger_hand(style: WriterStyle, forger: WriterStyle, rng: np.random.Generator) -> _Hand:
    mix = rng.uniform(0.3, 0.6)  # how much of the forger's own slant and width leaks in
    return _Hand(
        jitter=0.07,
        proportion=rng.uniform(0.1, 0.2),
        slant=(1 - mix) * style.slant + mix * forger.slant + rng.normal(0.0, 0.05),
        aspect=style.aspect * np.exp(rng.normal(0.0, 0.12)),
        pen_width=(1 - mix) * style.pen_width + mix * forger.pen_width,
        speed=0.6 * style.speed,  # slow and careful
        pressure_var=0.3 * style.pressure_var,  # even pressure
        tremor=rng.uniform(0.3, 0.8),
        blobs=int(rng.integers(1, 4)),
    )


def generate_signatures(
    n_writers: int,
    n_genuine: int = 24,
    n_forged: int = 24,
    seed: int = 0,
    size: tuple[int, int] = (155, 220),
) -> SyntheticSignatures:
    """Render ``n_genuine`` genuine and ``n_forged`` skilled forgeries for each of ``n_writers``.

    The same ``seed`` gives the same images. Writers are numbered ``0 .. n_writers - 1``; images
    are ordered writer by writer, genuine first.

    Raises:
        ValueError: a count below its minimum (1 writer, 1 genuine, 0 forgeries) or a tiny ``size``.

    Example:
        >>> d = generate_signatures(2, n_genuine=2, n_forged=1, seed=1)
        >>> d.writer.tolist(), d.forged.tolist()
        ([0, 0, 0, 1, 1, 1], [False, False, True, False, False, True])
    """
    if n_writers < 1 or n_genuine < 1 or n_forged < 0:
        raise ValueError(
            "generate_signatures needs n_writers >= 1, n_genuine >= 1 and n_forged >= 0, "
            f"got {n_writers}, {n_genuine}, {n_forged}."
        )
    if min(size) < 16:
        raise ValueError(f"size must be at least 16 pixels a side, got {size}.")
    rng = np.random.default_rng(seed)
    styles = [random_style(rng) for _ in range(n_writers)]
    images, writer, forged = [], [], []
    for w, style in enumerate(styles):
        wrng = np.random.default_rng([seed, w])
        for i in range(n_genuine + n_forged):
            is_forged = i >= n_genuine
            hand = (
                _forger_hand(style, random_style(wrng), wrng)
                if is_forged
                else _genuine_hand(style, wrng)
            )
            paths = _place(_trajectory(style, hand, wrng), hand, size, wrng)
            images.append(_render(paths, hand, size, wrng))
            writer.append(w)
            forged.append(is_forged)
    return SyntheticSignatures(np.stack(images), np.array(writer), np.array(forged))


def write_signature_folders(
    root: str | os.PathLike[str],
    n_writers: int,
    n_genuine: int = 24,
    n_forged: int = 24,
    seed: int = 0,
    size: tuple[int, int] = (155, 220),
) -> Path:
    """Write synthetic signatures as ``root/<writer>/genuine/*.png`` and ``.../forged/*.png``.

    Writers are named ``w0000``, ``w0001``, ... ``root/SYNTHETIC`` (:data:`SYNTHETIC_MARKER`)
    marks the folder as generated: :func:`is_synthetic_folder` finds it. Returns ``root``.

    Example:
        >>> write_signature_folders("synthetic_sigs", 10, seed=0)  # doctest: +SKIP
        PosixPath('synthetic_sigs')
    """
    data = generate_signatures(n_writers, n_genuine, n_forged, seed, size)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write(  # first: a folder left half-written is marked too
        root / SYNTHETIC_MARKER,
        f"Synthetic signatures from siamkit's generator ({n_writers} writers, seed {seed}), not "
        "real scans: every figure computed on this folder is on synthetic data.\n",
    )
    counter: dict[tuple[int, bool], int] = {}
    for img, w, f in zip(data.images, data.writer.tolist(), data.forged.tolist()):
        folder = root / f"w{w:04d}" / ("forged" if f else "genuine")
        folder.mkdir(parents=True, exist_ok=True)
        n = counter[(w, f)] = counter.get((w, f), 0) + 1
        dest = folder / f"{n:03d}.png"
        with atomic_path(dest, suffix=".png", durable=False) as tmp:  # regenerable: no fsync each
            if not cv2.imwrite(str(tmp), img):
                raise OSError(f"OpenCV could not write {dest}")
    return root


def is_synthetic_folder(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` or a folder above it holds :data:`SYNTHETIC_MARKER` (it, or the folder it
    was copied from with the marker, was written by :func:`write_signature_folders`)."""
    here = Path(root).resolve()
    return any((d / SYNTHETIC_MARKER).is_file() for d in (here, *here.parents))
