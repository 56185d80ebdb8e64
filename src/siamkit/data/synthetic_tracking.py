"""Synthetic tracking sequences with exact ground truth, made from real video.

An object patch (:mod:`siamkit.data.synthetic_objects`) is pasted into consecutive frames of a
real video along a known smooth path, with scale change, rotation, illumination change, motion
blur, a static partial occluder and distractors (copies of the same object on their own paths).
The ground-truth box is the bounding box of the pasted object's mask, so it is exact in every
frame (occluded parts included, as OTB annotates).

Whole videos and object sources are held out (``SPLITS``): training pastes Fashion-MNIST classes
0-5 and crops of ``vtest.avi`` onto ``vtest.avi``; validation uses ``tree.avi`` and classes 6-9
(train images); test uses ``Megamind.avi`` and classes 6-9 (test images). Everything is seeded.

>>> seqs = synthetic_sequences("test", n=2, n_frames=50, seed=0)  # doctest: +SKIP
>>> frame, box = seqs[0].render(10)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from siamkit.data.fashion_mnist import load_fashion_mnist
from siamkit.data.synthetic_objects import ObjectPatch, crop_patch, fmnist_patch, texture_patch
from siamkit.data.tracking_sequences import TrackingSequence
from siamkit.data.video import read_video

VIDEO_DIR = Path(os.environ.get("SIAMKIT_VIDEO_DIR", "/usr/share/doc/opencv-doc/examples/data"))


@dataclass(frozen=True)
class SyntheticSplit:
    """Which background video, Fashion-MNIST split/classes and crop source a split uses."""

    video: str
    fmnist_split: str
    fmnist_classes: tuple[int, ...]
    video_step: int = 1


SPLITS = {
    "train": SyntheticSplit("vtest.avi", "train", (0, 1, 2, 3, 4, 5), video_step=2),
    "val": SyntheticSplit("tree.avi", "train", (6, 7, 8, 9)),
    "test": SyntheticSplit("Megamind.avi", "test", (6, 7, 8, 9)),
}
SOURCES = ("fmnist", "crop", "texture")


@lru_cache(maxsize=3)
def background_frames(
    video: str, size: tuple[int, int], step: int = 1, max_frames: int = 300
) -> np.ndarray:
    """Frames of ``VIDEO_DIR/video`` resized to ``size`` (cached): ``(T, H, W, 3)`` uint8."""
    path = Path(video) if Path(video).is_file() else VIDEO_DIR / video
    return read_video(path, max_frames=max_frames, step=step, size=size)


@lru_cache(maxsize=2)
def _fmnist_items(split: str, classes: tuple[int, ...]) -> np.ndarray:
    images, labels = load_fashion_mnist(split)
    keep = np.isin(labels.numpy(), classes)
    return images.numpy()[keep]


@dataclass(frozen=True)
class Motion:
    """``c(t) = c0 + v t + a * sin(2π f t / T + φ)`` per axis, and a multiplicative profile."""

    c0: np.ndarray  # (2,)
    v: np.ndarray  # (2,)
    amp: np.ndarray  # (2,)
    freq: np.ndarray  # (2,)
    phase: np.ndarray  # (2,)

    def at(self, t: float, n: int) -> np.ndarray:
        return self.c0 + self.v * t + self.amp * np.sin(2 * np.pi * self.freq * t / n + self.phase)


def _wave(t: float, n: int, amp: float, freq: float, phase: float) -> float:
    return float(amp * np.sin(2 * np.pi * freq * t / n + phase))


@dataclass
class SyntheticSequence:
    """One synthetic sequence; :meth:`render` draws frame ``t`` and its exact box on demand."""

    name: str
    background: np.ndarray  # (T, H, W, 3) uint8
    start: int
    n_frames: int
    patch: ObjectPatch
    size: float  # the object's longer side in px at scale 1
    motion: Motion
    scale: tuple[float, float, float] = (0.0, 1.0, 0.0)  # log-amplitude, freq, phase
    rotation: tuple[float, float, float] = (0.0, 1.0, 0.0)  # degrees, freq, phase
    light: tuple[float, float, float] = (0.0, 1.0, 0.0)  # gain amplitude, freq, phase
    blur: bool = True
    occluder: tuple[int, int, np.ndarray] | None = None  # x, y, rgb patch
    distractors: list[Motion] = field(default_factory=list)

    def _warp(self, motion: Motion, t: int) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.patch.alpha.shape
        k = self.size / max(h, w) * float(np.exp(_wave(t, self.n_frames, *self.scale)))
        angle = _wave(t, self.n_frames, *self.rotation)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, k)
        m[:, 2] += motion.at(t, self.n_frames) - np.array([w / 2, h / 2])
        fh, fw = self.background.shape[1:3]
        rgba = np.dstack([self.patch.rgb.astype(np.float32), self.patch.alpha * 255])
        out = cv2.warpAffine(rgba, m, (fw, fh), flags=cv2.INTER_LINEAR, borderValue=0)
        return out[..., :3], out[..., 3] / 255.0

    def _blurred(
        self, motion: Motion, t: int, rgb: np.ndarray, alpha: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        vel = motion.at(t, self.n_frames) - motion.at(t - 1, self.n_frames)
        speed = float(np.hypot(*vel))
        if not self.blur or speed < 4:
            return rgb * alpha[..., None], alpha
        n = round(speed)
        kernel = np.zeros((n, n), np.float32)
        d = vel / speed
        for i in range(n):
            kernel[int(n / 2 + (i - n / 2) * d[1]) % n, int(n / 2 + (i - n / 2) * d[0]) % n] = 1
        kernel /= kernel.sum()
        return cv2.filter2D(rgb * alpha[..., None], -1, kernel), cv2.filter2D(alpha, -1, kernel)

    def render(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``t`` as RGB ``(H, W, 3)`` uint8 and its box ``(4,)`` as x, y, w, h."""
        if not 0 <= t < self.n_frames:
            raise ValueError(f"frame {t} is outside this sequence's {self.n_frames} frames")
        frame = self.background[(self.start + t) % len(self.background)].astype(np.float32)
        box = np.zeros(4)
        for j, motion in enumerate([*self.distractors, self.motion]):
            rgb, alpha = self._warp(motion, t)
            if j == len(self.distractors):  # the target: its mask before blur is the truth
                ys, xs = np.nonzero(alpha > 0.5)
                box = np.array(
                    [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], float
                )
            gain = 1.0 + _wave(t, self.n_frames, *self.light)
            premul, a = self._blurred(motion, t, rgb * gain, alpha)
            frame = frame * (1 - a[..., None]) + premul
        if self.occluder is not None:
            x, y, occ = self.occluder
            oh, ow = occ.shape[:2]
            frame[y : y + oh, x : x + ow] = occ[: frame.shape[0] - y, : frame.shape[1] - x]
        frame *= 1.0 + 0.5 * _wave(
            t, self.n_frames, *self.light[:1], self.light[1] * 0.5, self.light[2] + 1
        )
        return np.clip(frame, 0, 255).astype(np.uint8), box

    def to_sequence(self) -> TrackingSequence:
        """Render every frame into an in-memory :class:`TrackingSequence`."""
        frames, boxes = zip(*(self.render(t) for t in range(self.n_frames)))
        return TrackingSequence(self.name, list(frames), np.stack(boxes))


def random_motion(
    rng: np.random.Generator,
    frame_size: tuple[int, int],
    size: float,
    n: int,
    max_speed: float = 8.0,
) -> Motion:
    """A smooth path that keeps an object of longer side ``size`` (up to ×1.5 scale) inside the frame."""
    margin = 0.8 * size
    c0, amp = np.zeros(2), np.zeros(2)
    freq = rng.uniform(0.3, 1.2, 2)
    for i, extent in enumerate(frame_size):
        room = max(extent / 2 - margin, 0.0)
        amp[i] = min(rng.uniform(0.3, 1.0) * room, max_speed * n / (2 * np.pi * freq[i]))
        c0[i] = rng.uniform(margin + amp[i], max(extent - margin - amp[i], margin + amp[i] + 1))
    return Motion(c0, np.zeros(2), amp, freq, rng.uniform(0, 2 * np.pi, 2))


def make_patch(
    rng: np.random.Generator, split: str, source: str, background: np.ndarray, size: int
) -> ObjectPatch:
    """An object patch of ``source`` drawn from ``split``'s own (held-out) object pool."""
    if source == "fmnist":
        items = _fmnist_items(SPLITS[split].fmnist_split, SPLITS[split].fmnist_classes)
        return fmnist_patch(rng, items[int(rng.integers(len(items)))], size)
    if source == "crop":
        return crop_patch(rng, background[int(rng.integers(len(background)))], size)
    if source == "texture":
        return texture_patch(rng, size)
    raise ValueError(f"unknown object source {source!r}; choose from {', '.join(SOURCES)}")


def synthetic_sequence(
    rng: np.random.Generator,
    split: str = "train",
    n_frames: int = 100,
    frame_size: tuple[int, int] = (384, 288),
    sources: tuple[str, ...] = SOURCES,
    name: str = "synthetic",
) -> SyntheticSequence:
    """One random sequence of ``split`` (``"train"``, ``"val"`` or ``"test"``) with all the nuisances."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    sp = SPLITS[split]
    bg = background_frames(sp.video, frame_size, sp.video_step)
    size = float(rng.uniform(0.09, 0.2) * min(frame_size) * 1.6)
    patch = make_patch(rng, split, str(rng.choice(list(sources))), bg, int(size))
    motion = random_motion(rng, frame_size, size, n_frames)
    occluder = None
    if rng.random() < 0.5:  # a static occluder on the path, about half the object's size
        c = motion.at(float(rng.uniform(0.2, 0.8)) * n_frames, n_frames)
        ow, oh = int(size * rng.uniform(0.4, 0.7)), int(size * rng.uniform(0.4, 0.7))
        x = int(np.clip(c[0] + rng.uniform(-0.5, 0.1) * size, 0, frame_size[0] - ow))
        y = int(np.clip(c[1] + rng.uniform(-0.5, 0.1) * size, 0, frame_size[1] - oh))
        occluder = (x, y, texture_patch(rng, max(ow, oh)).rgb[:oh, :ow].astype(np.float32))
    n_distract = int(rng.random() < 0.4)
    return SyntheticSequence(
        name=name,
        background=bg,
        start=int(rng.integers(len(bg))),
        n_frames=n_frames,
        patch=patch,
        size=size,
        motion=motion,
        scale=(
            float(rng.uniform(0, 0.35)),
            float(rng.uniform(0.3, 1.0)),
            float(rng.uniform(0, 6.3)),
        ),
        rotation=(
            float(rng.uniform(0, 20)),
            float(rng.uniform(0.3, 1.0)),
            float(rng.uniform(0, 6.3)),
        ),
        light=(
            float(rng.uniform(0, 0.25)),
            float(rng.uniform(0.3, 1.0)),
            float(rng.uniform(0, 6.3)),
        ),
        occluder=occluder,
        distractors=[random_motion(rng, frame_size, size, n_frames) for _ in range(n_distract)],
    )


def synthetic_sequences(
    split: str = "test",
    n: int = 10,
    n_frames: int = 100,
    frame_size: tuple[int, int] = (384, 288),
    seed: int = 0,
    sources: tuple[str, ...] = SOURCES,
) -> list[SyntheticSequence]:
    """``n`` seeded sequences of ``split``, named ``<split>-<seed>-<i>``."""
    rng = np.random.default_rng([seed, list(SPLITS).index(split) if split in SPLITS else 99])
    return [
        synthetic_sequence(
            rng, split, n_frames, frame_size, sources, name=f"{split}-{seed}-{i:03d}"
        )
        for i in range(n)
    ]


def linear_square_sequence(
    n_frames: int = 20,
    frame_size: tuple[int, int] = (320, 240),
    size: int = 40,
    velocity: tuple[float, float] = (5.0, 2.0),
    seed: int = 0,
    video: str = "tree.avi",
) -> SyntheticSequence:
    """A textured square moving in a straight line over real video: the simplest tracking case."""
    rng = np.random.default_rng(seed)
    bg = background_frames(video, frame_size)
    c0 = np.array([frame_size[0] * 0.25, frame_size[1] * 0.3])
    z = np.zeros(2)
    return SyntheticSequence(
        name=f"square-{seed}",
        background=bg,
        start=0,
        n_frames=n_frames,
        patch=texture_patch(rng, size, square=True),
        size=float(size),
        motion=Motion(c0, np.asarray(velocity, float), z, np.ones(2), z),
        blur=False,
    )
