"""Decision-threshold calibration for 1:1 verification (scikit-learn style ``fit`` / ``predict``).

A pair is predicted "same" when its distance is ``<= threshold_``. Calibrate on validation
embeddings, never on the test set you report.
"""

from __future__ import annotations

from typing import Literal, TypeVar, overload

import numpy as np
import torch
from torch import Tensor

from siamkit.evaluation._common import ArrayLike, DistanceLike, as_scores
from siamkit.evaluation.pairs import pair_distances
from siamkit.evaluation.roc import (
    OperatingPoint,
    SortedScores,
    best_accuracy,
    eer,
    false_accepts_allowed,
    far_operating_point,
)

Target = Literal["eer", "accuracy", "far"]
_TARGETS = ("eer", "accuracy", "far")
_Self = TypeVar("_Self", bound="ThresholdCalibrator")
_NOT_FINITE = (
    "the given distances contain NaN or inf; check the embeddings and the distance (a learned "
    "metric's weights may have become NaN)"
)


class ThresholdCalibrator:
    """Choose a distance threshold from genuine and impostor distances.

    Args:
        target: ``"eer"`` (FAR = FRR), ``"accuracy"`` (best balanced accuracy) or ``"far"``
            (highest TAR with FAR <= ``far``).
        far: the false accept rate allowed when ``target="far"``.

    Attributes:
        threshold_: the fitted threshold (a float), set by :meth:`fit`.
        score_: the metric reached on the fitting pairs at ``threshold_`` (the EER, the
            balanced accuracy, or the TAR).

    Example:
        >>> cal = ThresholdCalibrator("eer").fit([0.1, 0.2, 0.3], [0.25, 0.8, 0.9])
        >>> cal.threshold_, cal.predict(np.array([0.2, 0.5])).tolist()
        (0.25, [True, False])
    """

    def __init__(self, target: Target = "eer", far: float = 1e-3) -> None:
        if target not in _TARGETS:
            raise ValueError(
                f"unknown threshold target {target!r}; choose one of {', '.join(_TARGETS)}"
            )
        if not 0.0 <= far <= 1.0:
            raise ValueError(f"far must be a rate in [0, 1], got {far}")
        self.target = target
        self.far = far

    def fit(self: _Self, genuine: ArrayLike, impostor: ArrayLike) -> _Self:
        """Fit ``threshold_`` on genuine ``(G,)`` and impostor ``(I,)`` distances; returns ``self``.

        For embeddings and labels, :func:`calibrate_threshold` (or :func:`pair_distances` for
        the two arrays this takes)."""
        if np.ndim(genuine.detach().cpu() if isinstance(genuine, Tensor) else genuine) == 2:
            raise ValueError(
                "fit takes genuine and impostor distances, 1-D each, got a 2-D genuine (embeddings?); "
                "for embeddings and labels use calibrate_threshold(z, labels, target=...)"
            )
        s = SortedScores(genuine, impostor)
        if self.target == "eer":
            point = eer(s)
        elif self.target == "accuracy":
            point = best_accuracy(s)
        else:
            point = _as_decided(s, far_operating_point(s, None, self.far), self.far)
        self.threshold_ = float(point.threshold)
        self.score_ = float(point.value)
        return self

    @overload
    def predict(self, distances: Tensor) -> Tensor: ...

    @overload
    def predict(self, distances: np.ndarray) -> np.ndarray: ...

    def predict(self, distances: ArrayLike) -> ArrayLike:
        """``distances <= threshold_`` ("same"); a tensor gives a bool tensor, else a bool array.

        NaN or inf is refused for both, as :meth:`fit` refuses it: a NaN compares false, so it
        would read as a confident "different"."""
        if not hasattr(self, "threshold_"):
            raise ValueError(
                "this ThresholdCalibrator is not fitted yet; call fit(genuine, impostor) first"
            )
        if isinstance(distances, Tensor):
            if distances.is_floating_point() and not bool(torch.isfinite(distances).all()):
                raise ValueError(_NOT_FINITE)
            return distances <= self.threshold_
        return as_scores(np.atleast_1d(np.asarray(distances)), "the given") <= self.threshold_

    def __repr__(self) -> str:
        fitted = f", threshold_={self.threshold_:.6g}" if hasattr(self, "threshold_") else ""
        return f"ThresholdCalibrator(target={self.target!r}, far={self.far}{fitted})"


def _as_decided(s: SortedScores, point: OperatingPoint, far: float) -> OperatingPoint:
    """A FAR fit's ``point`` as siamkit decides with it: verify, a gallery and the text commands
    accept a distance up to the threshold *within float32 rounding*
    (:data:`siamkit.decision.ROUNDING`), so a threshold less than that under the first
    impostor the fit rejects would accept it when deployed, one more false accept than ``far``
    allows. Such a threshold is lowered to twice the rounding under that impostor (float32
    steps are far smaller at the distances of unit embeddings), and the TAR is the share of
    genuine distances the deployed rule then accepts; any other is kept as it is.

    >>> s = SortedScores(np.array([0.1, 0.299996]), np.array([0.3, 0.9]))
    >>> far_operating_point(s, None, 0.0).threshold  # accepts 0.3 within the rounding
    0.299996
    >>> point = _as_decided(s, far_operating_point(s, None, 0.0), 0.0)
    >>> round(point.threshold, 6), point.value  # 0.299996 is then rejected too
    (0.29998, 0.5)
    """
    from siamkit.decision import ROUNDING, accepts

    k = false_accepts_allowed(far, s.n_impostor)
    if k >= s.n_impostor:
        return point
    highest = float(s.impostor[k]) - 2 * ROUNDING
    if point.threshold <= highest:
        return point
    return OperatingPoint(float(np.mean(accepts(s.genuine, highest))), highest)


def calibrate_threshold(
    z: ArrayLike,
    labels: ArrayLike,
    distance: DistanceLike = "euclidean",
    target: Target = "eer",
    far: float = 1e-3,
    max_pairs: int | None = None,
    seed: int = 0,
) -> float:
    """A verification threshold fitted on validation embeddings (all pairs ``i < j``).

    Args:
        z: ``(N, D)`` validation embeddings.
        labels: ``(N,)`` their classes.
        distance: the model's distance (name or ``Distance``).
        target: ``"eer"``, ``"accuracy"`` or ``"far"`` (see :class:`ThresholdCalibrator`).
        far: FAR allowed for ``target="far"``.
        max_pairs: use a seeded sample of this many pairs instead of all of them.
        seed: seed for that sample.

    Returns:
        The threshold as a float (store it with the model).

    Example:
        >>> import torch
        >>> z = torch.tensor([[0.0], [0.1], [1.0], [1.2]])
        >>> round(calibrate_threshold(z, [0, 0, 1, 1], target="accuracy"), 3)
        0.2
    """
    pd = pair_distances(z, labels, distance, max_pairs=max_pairs, seed=seed)
    return ThresholdCalibrator(target, far=far).fit(pd.genuine, pd.impostor).threshold_


__all__ = ["Target", "ThresholdCalibrator", "calibrate_threshold"]
