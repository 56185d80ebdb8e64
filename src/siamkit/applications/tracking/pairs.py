"""Training pairs for SiamFC: an exemplar and a search crop from two frames of one sequence.

Frames are at most ``max_gap`` apart. The search crop is shifted and rescaled at random so the
target is not always at the centre, and the label map marks the response cells within
``radius`` pixels (in the search crop) of the target's true position.

>>> source = SequencePairs([seq], max_gap=10)  # doctest: +SKIP
>>> z, x, labels = make_batch(source, np.random.default_rng(0), 8, TrackerParams())  # doctest: +SKIP
>>> z.shape, x.shape, labels.shape  # doctest: +SKIP
((8, 3, 127, 127), (8, 3, 255, 255), (8, 17, 17))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from siamkit.applications.tracking.backbones import TOTAL_STRIDE
from siamkit.applications.tracking.crops import (
    box_center,
    context_side,
    crop_square,
    to_tensor_batch,
)
from siamkit.applications.tracking.metrics import has_box
from siamkit.applications.tracking.model import TrackerParams
from siamkit.data.synthetic_tracking import SyntheticSequence, synthetic_sequence
from siamkit.data.tracking_sequences import TrackingSequence

Frame = tuple[np.ndarray, np.ndarray]  # (H, W, 3) uint8 image, (4,) box


class PairSource(Protocol):
    """Anything that draws two frames (with boxes) of one sequence."""

    def sample(self, rng: np.random.Generator) -> tuple[Frame, Frame]:
        """Two frames of one sequence, each ``(image, box)``: an ``(H, W, 3)`` uint8 image and
        its ``(4,)`` ``(x, y, w, h)`` box."""


def _gap_pair(rng: np.random.Generator, n: int, max_gap: int) -> tuple[int, int]:
    i = int(rng.integers(n))
    lo, hi = max(0, i - max_gap), min(n - 1, i + max_gap)
    return i, int(rng.integers(lo, hi + 1))


def _pair_among(rng: np.random.Generator, valid: np.ndarray, max_gap: int) -> tuple[int, int]:
    """Two of the frame numbers ``valid`` (sorted) at most ``max_gap`` apart; with every frame
    valid, the same draws as :func:`_gap_pair`."""
    i = int(valid[rng.integers(len(valid))])
    lo = int(np.searchsorted(valid, i - max_gap, side="left"))
    hi = int(np.searchsorted(valid, i + max_gap, side="right"))
    return i, int(valid[rng.integers(lo, hi)])


class SequencePairs:
    """Pairs from fixed sequences (folders on disk, or synthetic ones rendered on demand).

    Only frames with a ground-truth box (:func:`~siamkit.applications.tracking.metrics.has_box`:
    finite, positive width and height) are drawn; a sequence without any is left out.
    """

    def __init__(
        self, sequences: Sequence[TrackingSequence | SyntheticSequence], max_gap: int = 50
    ) -> None:
        if not sequences:
            raise ValueError("training needs at least one sequence")
        self.valid: list[np.ndarray | None] = []  # frame numbers with a box; None: all
        self.sequences: list[TrackingSequence | SyntheticSequence] = []
        for seq in sequences:
            if isinstance(seq, SyntheticSequence):
                self.sequences.append(seq)
                self.valid.append(None)
                continue
            valid = np.flatnonzero(has_box(seq.boxes))
            if len(valid):
                self.sequences.append(seq)
                self.valid.append(None if len(valid) == len(seq) else valid)
        if not self.sequences:
            raise ValueError(
                "no training sequence has a frame with a ground-truth box (finite x, y, w, h with "
                "positive width and height)"
            )
        self.max_gap = max_gap

    def _frame(self, seq: TrackingSequence | SyntheticSequence, t: int) -> Frame:
        if isinstance(seq, SyntheticSequence):
            return seq.render(t)
        return seq.frame(t), seq.boxes[t]

    def sample(self, rng: np.random.Generator) -> tuple[Frame, Frame]:
        """Two frames with a ground-truth box, of a random sequence, at most ``max_gap`` frames apart."""
        k = int(rng.integers(len(self.sequences)))
        seq, valid = self.sequences[k], self.valid[k]
        if valid is None:
            n = seq.n_frames if isinstance(seq, SyntheticSequence) else len(seq)
            i, j = _gap_pair(rng, n, self.max_gap)
        else:
            i, j = _pair_among(rng, valid, self.max_gap)
        return self._frame(seq, i), self._frame(seq, j)


class SyntheticPairs:
    """Pairs from a fresh random synthetic sequence of ``split`` each time (endless variety)."""

    def __init__(
        self,
        split: str = "train",
        n_frames: int = 100,
        frame_size: tuple[int, int] = (384, 288),
        max_gap: int = 50,
    ) -> None:
        self.split, self.n_frames, self.frame_size, self.max_gap = (
            split,
            n_frames,
            frame_size,
            max_gap,
        )

    def sample(self, rng: np.random.Generator) -> tuple[Frame, Frame]:
        """Two frames, with their boxes, of a fresh synthetic sequence, at most ``max_gap`` apart."""
        seq = synthetic_sequence(rng, self.split, self.n_frames, self.frame_size)
        i, j = _gap_pair(rng, self.n_frames, self.max_gap)
        return seq.render(i), seq.render(j)


def label_map(offset: np.ndarray, params: TrackerParams, radius: float = 16.0) -> np.ndarray:
    """1 where a response cell is within ``radius`` search-crop pixels of the target, else 0.

    ``offset`` ``(2,)`` is the target's position minus the crop centre, in search-crop pixels.
    Returns ``(n, n)`` float32 with ``n = (instance - exemplar) / stride + 1``.
    """
    n = (params.instance_size - params.exemplar_size) // TOTAL_STRIDE + 1
    cells = (np.arange(n) - (n - 1) / 2) * TOTAL_STRIDE  # each cell's position in crop pixels
    dx = cells[None, :] - offset[0]
    dy = cells[:, None] - offset[1]
    return (np.hypot(dx, dy) <= radius).astype(np.float32)


def make_batch(
    source: PairSource,
    rng: np.random.Generator,
    batch_size: int,
    params: TrackerParams,
    max_shift: float = 48.0,
    scale_jitter: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(B, 3, 127, 127)`` exemplars, ``(B, 3, 255, 255)`` search crops, ``(B, n, n)`` labels."""
    zs, xs, labels = [], [], []
    for _ in range(batch_size):
        (fz, bz), (fx, bx) = source.sample(rng)
        z_side = context_side(bz, params.context)
        zs.append(crop_square(fz, box_center(bz), z_side, params.exemplar_size))
        x_side = context_side(bx, params.context) * params.instance_size / params.exemplar_size
        x_side *= float(np.exp(rng.uniform(-scale_jitter, scale_jitter)))
        shift = rng.uniform(-max_shift, max_shift, 2)  # target offset in crop pixels
        centre = box_center(bx) - shift * x_side / params.instance_size
        xs.append(crop_square(fx, centre, x_side, params.instance_size))
        labels.append(label_map(shift, params))
    return to_tensor_batch(zs), to_tensor_batch(xs), np.stack(labels)
