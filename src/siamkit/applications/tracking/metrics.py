"""OTB-style tracking metrics on ``(x, y, w, h)`` boxes: pure NumPy functions.

Success plot: the fraction of frames whose IoU with the ground truth exceeds each threshold in
``[0, 1]``; its area under the curve (AUC, the mean over 21 evenly spaced thresholds as OTB
computes it). Precision plot: the fraction of frames whose centre error is within each distance
in pixels; precision at 20 px. Robustness: frames lost (no overlap with the ground truth).
Frames without a ground-truth box (a row of NaN, OTB's "no box", or zero width or height) are left
out of every score and count, as the OTB and GOT-10k toolkits do.

>>> gt = np.array([[0, 0, 10, 10]], float)
>>> float(iou(gt, np.array([[5, 0, 10, 10]], float))[0])
0.3333333333333333
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # OTB's overlap thresholds
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # OTB's centre-error thresholds (px)


def _boxes(b: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(b, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must be (N, 4) boxes as x, y, w, h; got shape {arr.shape}")
    return arr


class BoxFault(IntEnum):
    """The first rule a box breaks (:func:`box_faults`), in the order they are checked."""

    NONE = 0  # a valid box
    NOT_FINITE = 1  # NaN or infinite
    NEGATIVE_SIZE = 2  # negative width or height
    ZERO_AREA = 3  # zero width or height
    OUTSIDE_FRAME = 4  # no part inside the frame
    LARGER_THAN_FRAME = 5  # wider or taller than the frame
    MOSTLY_OUTSIDE = 6  # less than half of it inside the frame


def box_faults(boxes: np.ndarray, frame_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The one place that decides whether x, y, w, h boxes are valid: ``(N,)`` int
    :class:`BoxFault` codes of ``(N, 4)`` rows, ``BoxFault.NONE`` (0) for a valid box.

    A box is four finite numbers with positive width and height; given ``frame_shape``
    ``(H, W, ...)``, it must also fit in the frame with at least half of it inside.
    """
    b = _boxes(boxes, "boxes")
    x, y, w, h = b.T
    fault = np.zeros(len(b), dtype=np.int64)

    def mark(broken: np.ndarray, code: BoxFault) -> None:
        fault[(fault == BoxFault.NONE) & broken] = code

    with np.errstate(invalid="ignore"):  # NaN and inf rows are marked first; no warnings
        mark(~np.isfinite(b).all(axis=1), BoxFault.NOT_FINITE)
        mark((w < 0) | (h < 0), BoxFault.NEGATIVE_SIZE)
        mark((w == 0) | (h == 0), BoxFault.ZERO_AREA)
        if frame_shape is not None:
            fh, fw = frame_shape[:2]
            mark((x >= fw) | (y >= fh) | (x + w <= 0) | (y + h <= 0), BoxFault.OUTSIDE_FRAME)
            mark((w > fw) | (h > fh), BoxFault.LARGER_THAN_FRAME)
            inside = (np.minimum(x + w, fw) - np.maximum(x, 0)) * (
                np.minimum(y + h, fh) - np.maximum(y, 0)
            )
            mark(inside < 0.5 * w * h, BoxFault.MOSTLY_OUTSIDE)
    return fault


def has_box(boxes: np.ndarray) -> np.ndarray:
    """``(N,)`` True where a row of ``(N, 4)`` x, y, w, h is a box: finite, positive width and
    height (:func:`box_faults` without a frame)."""
    return box_faults(boxes) == BoxFault.NONE  # type: ignore[no-any-return]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of matching rows of ``a`` and ``b``, each ``(N, 4)`` x, y, w, h.

    Boxes with zero or negative size have IoU 0 with everything.

    Returns:
        ``(N,)`` IoU in ``[0, 1]``.
    """
    a, b = _boxes(a, "a"), _boxes(b, "b")
    if len(a) != len(b):
        raise ValueError(
            f"IoU needs as many predicted boxes as ground-truth boxes ({len(a)} vs {len(b)})"
        )
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2], 0, None) * np.clip(a[:, 3], 0, None)
    area_b = np.clip(b[:, 2], 0, None) * np.clip(b[:, 3], 0, None)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def center_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels between the centres of matching boxes: ``(N,)``."""
    a, b = _boxes(a, "a"), _boxes(b, "b")
    if len(a) != len(b):
        raise ValueError(
            f"centre error needs as many predicted boxes as ground-truth boxes ({len(a)} vs {len(b)})"
        )
    ca = a[:, :2] + a[:, 2:] / 2
    cb = b[:, :2] + b[:, 2:] / 2
    return np.sqrt(((ca - cb) ** 2).sum(axis=1))


def success_curve(ious: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """Fraction of frames with IoU strictly above each threshold: ``(T,)``."""
    ious = np.asarray(ious, dtype=np.float64)
    return (ious[None, :] > np.asarray(thresholds)[:, None]).mean(axis=1)


def precision_curve(
    errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS
) -> np.ndarray:
    """Fraction of frames with centre error at most each threshold (pixels): ``(T,)``."""
    errors = np.asarray(errors, dtype=np.float64)
    return (errors[None, :] <= np.asarray(thresholds)[:, None]).mean(axis=1)


def success_auc(ious: np.ndarray) -> float:
    """Area under the success plot: the mean success rate over OTB's 21 thresholds."""
    return float(success_curve(ious).mean())


def precision_at(errors: np.ndarray, pixels: float = 20.0) -> float:
    """Fraction of frames whose centre error is at most ``pixels``."""
    return float((np.asarray(errors, dtype=np.float64) <= pixels).mean())


@dataclass(frozen=True)
class TrackingScores:
    """OTB scores of one sequence (:func:`score_tracking`) or of several
    (:func:`mean_over_sequences`: each sequence's curves averaged, as OTB's overall plots are)."""

    success_auc: float
    precision_20: float
    frames_lost: int
    n_frames: int
    fps: float
    success: np.ndarray  # (21,) success rate per SUCCESS_THRESHOLDS
    precision: np.ndarray  # (51,) precision per PRECISION_THRESHOLDS

    def as_dict(self) -> dict[str, float | int]:
        """The headline numbers as plain numbers (for JSON and tables): counts are ints."""
        return {
            "success_auc": self.success_auc,
            "precision_20": self.precision_20,
            "frames_lost": int(self.frames_lost),
            "n_frames": int(self.n_frames),
            "fps": self.fps,
        }


def score_tracking(
    predicted: np.ndarray, ground_truth: np.ndarray, seconds: float | None = None
) -> TrackingScores:
    """Score predicted boxes ``(N, 4)`` against ground truth ``(N, 4)``.

    Every row with a ground-truth box is scored (OTB's one-pass evaluation counts the initial
    frame too; drop it before calling to leave it out); rows whose ground truth is not a box
    (:func:`has_box`: NaN, or zero width or height) are left out of every score and of
    ``n_frames``. ``frames_lost`` is the number of scored frames with no overlap at all.
    ``fps`` is ``N / seconds`` over every row, as the tracker ran on each (0 when not timed).
    With no scored frame, ``success_auc`` and ``precision_20`` are NaN.

    >>> s = score_tracking(np.array([[0, 0, 4, 4]]), np.array([[0, 0, 4, 4]]))
    >>> s.success_auc, s.precision_20, s.frames_lost
    (0.9523809523809523, 1.0, 0)
    """
    pred, gt = _boxes(predicted, "predicted"), _boxes(ground_truth, "ground_truth")
    if len(pred) != len(gt):
        raise ValueError(
            f"scoring needs as many predicted boxes as ground-truth boxes ({len(pred)} vs {len(gt)})"
        )
    fps = len(pred) / seconds if seconds else 0.0
    scored = has_box(gt)
    ious = iou(pred[scored], gt[scored])
    errors = center_error(pred[scored], gt[scored])
    n = len(ious)
    nan = float("nan")
    return TrackingScores(
        success_auc=success_auc(ious) if n else nan,
        precision_20=precision_at(errors, 20.0) if n else nan,
        frames_lost=int((ious <= 0).sum()),
        n_frames=n,
        fps=float(fps),
        success=success_curve(ious) if n else np.full(len(SUCCESS_THRESHOLDS), nan),
        precision=precision_curve(errors) if n else np.full(len(PRECISION_THRESHOLDS), nan),
    )


def mean_over_sequences(
    per_sequence: Sequence[TrackingScores], frames: int = 0, seconds: float | None = None
) -> TrackingScores:
    """Overall scores of several sequences as OTB's success and precision plots give them: each
    sequence's curves averaged, so that each sequence counts once whatever its length (pooled
    frames let one long sequence outweigh the rest, as the OTB toolkit and GOT-10k's OTB
    experiment do not). A sequence with no scored frame is left out of the averages (NaN when
    none has one); ``frames_lost`` and ``n_frames`` are summed, and ``fps`` is ``frames /
    seconds`` over the rows the tracker ran on (0 when not timed).

    >>> a = score_tracking(np.array([[0, 0, 4, 4]]), np.array([[0, 0, 4, 4]]))
    >>> b = score_tracking(np.zeros((3, 4)) + [9, 9, 4, 4], np.tile([0, 0, 4, 4], (3, 1)))
    >>> s = mean_over_sequences([a, b])
    >>> round(s.success_auc, 4), s.frames_lost, s.n_frames
    (0.4762, 3, 4)
    """
    scored = [s for s in per_sequence if s.n_frames]
    nan = float("nan")
    if scored:
        success = np.mean([s.success for s in scored], axis=0)
        precision = np.mean([s.precision for s in scored], axis=0)
    else:
        success = np.full(len(SUCCESS_THRESHOLDS), nan)
        precision = np.full(len(PRECISION_THRESHOLDS), nan)
    return TrackingScores(
        success_auc=float(np.mean([s.success_auc for s in scored])) if scored else nan,
        precision_20=float(np.mean([s.precision_20 for s in scored])) if scored else nan,
        frames_lost=sum(s.frames_lost for s in per_sequence),
        n_frames=sum(s.n_frames for s in per_sequence),
        fps=frames / seconds if seconds else 0.0,
        success=success,
        precision=precision,
    )
