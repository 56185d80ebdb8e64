"""Run a tracker over sequences and score it OTB-style (one-pass evaluation from the first box).

>>> scores, per_sequence = evaluate_tracker(lambda: SiamFCTracker(net), sequences)  # doctest: +SKIP
>>> scores.success_auc  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from siamkit.applications.tracking.metrics import TrackingScores, score_tracking
from siamkit.data.synthetic_tracking import SyntheticSequence
from siamkit.data.tracking_sequences import TrackingSequence


class Tracker(Protocol):
    """``init(frame, box)`` then ``update(frame) -> box`` (SiamFC's or an adapter around OpenCV's)."""

    def init(self, frame: np.ndarray, box: Sequence[float]) -> None: ...

    def update(self, frame: np.ndarray) -> object: ...


@dataclass(frozen=True)
class SequenceRun:
    """One sequence's predicted boxes ``(N, 4)``, the seconds spent in the tracker, and its scores."""

    name: str
    boxes: np.ndarray
    seconds: float
    scores: TrackingScores


def _as_box(out: object) -> np.ndarray:
    box = getattr(out, "box", out)
    return np.asarray(box, dtype=np.float64).reshape(4)


def run_sequence(tracker: Tracker, seq: TrackingSequence) -> SequenceRun:
    """Initialise on frame 0's ground truth, track the rest; frames after the first are scored and timed."""
    boxes = [seq.boxes[0].copy()]
    tracker.init(seq.frame(0), seq.boxes[0])
    seconds = 0.0
    for i in range(1, len(seq)):
        frame = seq.frame(i)
        t0 = time.perf_counter()
        out = tracker.update(frame)
        seconds += time.perf_counter() - t0
        boxes.append(_as_box(out))
    pred = np.stack(boxes)
    return SequenceRun(seq.name, pred, seconds, score_tracking(pred[1:], seq.boxes[1:], seconds))


def evaluate_tracker(
    make_tracker: Callable[[], Tracker],
    sequences: Sequence[TrackingSequence | SyntheticSequence],
    on_sequence: Callable[[SequenceRun, TrackingSequence], None] | None = None,
) -> tuple[TrackingScores, list[SequenceRun]]:
    """Pooled scores over every sequence (frames after the first), and each sequence's run.

    Synthetic sequences are rendered one at a time, so memory holds one sequence.
    """
    runs: list[SequenceRun] = []
    truth: list[np.ndarray] = []
    for seq in sequences:
        s = seq.to_sequence() if isinstance(seq, SyntheticSequence) else seq
        run = run_sequence(make_tracker(), s)
        runs.append(run)
        truth.append(s.boxes[1:])
        if on_sequence:
            on_sequence(run, s)
    if not runs:
        raise ValueError("no sequences to evaluate")
    pred = np.concatenate([r.boxes[1:] for r in runs])
    return score_tracking(pred, np.concatenate(truth), sum(r.seconds for r in runs)), runs
