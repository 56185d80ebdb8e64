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

from siamkit.applications.tracking.metrics import (
    TrackingScores,
    has_box,
    mean_over_sequences,
    score_tracking,
)
from siamkit.data.synthetic_tracking import SyntheticSequence
from siamkit.data.tracking_sequences import TrackingSequence
from siamkit.progress import progress as report_progress


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


def run_sequence(
    tracker: Tracker, seq: TrackingSequence, on_frame: Callable[[], None] | None = None
) -> SequenceRun:
    """Initialise on frame 0's ground truth, track the rest; frames after the first are scored
    and timed. ``on_frame()`` is called after each frame (progress)."""
    boxes = [seq.boxes[0].copy()]
    tracker.init(seq.frame(0), seq.boxes[0])
    if on_frame:
        on_frame()
    seconds = 0.0
    for i in range(1, len(seq)):
        frame = seq.frame(i)
        t0 = time.perf_counter()
        out = tracker.update(frame)
        seconds += time.perf_counter() - t0
        boxes.append(_as_box(out))
        if on_frame:
            on_frame()
    pred = np.stack(boxes)
    return SequenceRun(seq.name, pred, seconds, score_tracking(pred[1:], seq.boxes[1:], seconds))


def check_first_boxes(sequences: Sequence[TrackingSequence | SyntheticSequence]) -> None:
    """Refuse, before any tracking, a sequence whose first frame has no ground-truth box: the
    tracker starts from it (synthetic sequences always have one)."""
    from siamkit.applications.tracking.tracker import check_box

    for seq in sequences:
        if isinstance(seq, SyntheticSequence):
            continue
        where = seq.first_box_source or f"sequence {seq.name!r}"
        if has_box(seq.boxes[0])[0]:
            try:  # larger than the frame, or mostly outside it: refused when tracking starts
                check_box(seq.boxes[0], seq.frame(0).shape)
            except ValueError as err:
                raise ValueError(
                    f"{where}: the first box cannot start the tracker: {err}"
                ) from None
            continue
        raise ValueError(
            f"{where} has no box for the first frame ({', '.join(str(float(v)) for v in seq.boxes[0])}), "
            "but the tracker needs one to start: give that line four finite numbers x, y, w, h "
            "with positive width and height, or leave the sequence out"
        )


def evaluate_tracker(
    make_tracker: Callable[[], Tracker],
    sequences: Sequence[TrackingSequence | SyntheticSequence],
    on_sequence: Callable[[SequenceRun, TrackingSequence], None] | None = None,
    progress: bool = False,
) -> tuple[TrackingScores, list[SequenceRun]]:
    """Overall scores (frames after the first), each sequence's curves averaged as OTB does
    (:func:`~siamkit.applications.tracking.metrics.mean_over_sequences`), and each sequence's run.

    Synthetic sequences are rendered one at a time, so memory holds one sequence. Every
    sequence's first box is checked before any tracking (:func:`check_first_boxes`); frames
    without a ground-truth box are left out of the scores (:func:`score_tracking`).
    ``progress``: report the frames done through :mod:`siamkit.progress` (a bar on a terminal,
    a line per tenth of the work in a log; silent unless a program turned progress on).
    """
    check_first_boxes(sequences)
    runs: list[SequenceRun] = []
    total = sum(q.n_frames if isinstance(q, SyntheticSequence) else len(q) for q in sequences)
    with report_progress(total, "tracking", unit="frames") as bar:
        for seq in sequences:
            s = seq.to_sequence() if isinstance(seq, SyntheticSequence) else seq
            run = run_sequence(make_tracker(), s, bar.update if progress else None)
            runs.append(run)
            if on_sequence:
                on_sequence(run, s)
    if not runs:
        raise ValueError("no sequences to evaluate")
    frames = sum(len(r.boxes) - 1 for r in runs)
    return mean_over_sequences([r.scores for r in runs], frames, sum(r.seconds for r in runs)), runs
