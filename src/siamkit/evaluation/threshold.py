"""Decision-threshold calibration for 1:1 verification (scikit-learn style ``fit`` / ``predict``).

A pair is predicted "same" when its distance is ``<= threshold_`` within float32 rounding
(:func:`siamkit.decision.accepts`), as every siamkit model decides with it. Calibrate on
validation embeddings, never on the test set you report.
"""

from __future__ import annotations

from typing import Literal, TypeVar, overload

import numpy as np
import torch
from torch import Tensor

from siamkit.evaluation._common import ArrayLike, DistanceLike, as_scores, resolve_distance
from siamkit.evaluation.pairs import pair_distances
from siamkit.evaluation.roc import (
    OperatingPoint,
    SortedScores,
    best_accuracy_as_decided,
    eer,
    false_accepts_allowed,
    far_operating_point,
    largest_rejecting,
    rejected_by_every_reader,
    rejecting_with_room,
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
        signed: the values are a score-normalised model's scores, which may be negative, and
            so may the threshold; distances (the default) keep a fit's threshold at or above 0
            where room for the readers alone would take it below
            (:func:`~siamkit.evaluation.roc.rejecting_with_room`).

    Attributes:
        threshold_: the fitted threshold (a float), set by :meth:`fit`.
        score_: the metric reached on the fitting pairs at ``threshold_`` (the EER, the
            balanced accuracy, or the TAR).

    Example:
        >>> cal = ThresholdCalibrator("eer").fit([0.1, 0.2, 0.3], [0.25, 0.8, 0.9])
        >>> cal.threshold_, cal.predict(np.array([0.2, 0.5])).tolist()
        (0.25, [True, False])
    """

    def __init__(self, target: Target = "eer", far: float = 1e-3, signed: bool = False) -> None:
        if target not in _TARGETS:
            raise ValueError(
                f"unknown threshold target {target!r}; choose one of {', '.join(_TARGETS)}"
            )
        if not 0.0 <= far <= 1.0:
            raise ValueError(f"far must be a rate in [0, 1], got {far}")
        self.target = target
        self.far = far
        self.signed = signed

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
        elif self.target == "accuracy":  # as readers decide (best_accuracy counts strictly)
            point = best_accuracy_as_decided(s, signed=self.signed)
        else:
            point = _as_decided(s, far_operating_point(s, None, self.far), self.far, self.signed)
        self.threshold_ = float(point.threshold)
        self.score_ = float(point.value)
        return self

    @overload
    def predict(self, distances: Tensor) -> Tensor: ...

    @overload
    def predict(self, distances: np.ndarray) -> np.ndarray: ...

    def predict(self, distances: ArrayLike) -> ArrayLike:
        """``distances <= threshold_`` ("same") within float32 rounding, by the rule every
        siamkit model decides with (:func:`siamkit.decision.accepts`), so that a far fit's
        ``score_`` is the share of its genuine pairs predicted "same"; a tensor gives a bool
        tensor, else a bool array.

        NaN or inf is refused for both, as :meth:`fit` refuses it: a NaN compares false, so it
        would read as a confident "different"."""
        from siamkit.decision import accepts

        if not hasattr(self, "threshold_"):
            raise ValueError(
                "this ThresholdCalibrator is not fitted yet; call fit(genuine, impostor) first"
            )
        if isinstance(distances, Tensor):
            if distances.is_floating_point() and not bool(torch.isfinite(distances).all()):
                raise ValueError(_NOT_FINITE)
            return accepts(distances, self.threshold_)
        return accepts(
            as_scores(np.atleast_1d(np.asarray(distances)), "the given"), self.threshold_
        )

    def __repr__(self) -> str:
        fitted = f", threshold_={self.threshold_:.6g}" if hasattr(self, "threshold_") else ""
        signed = ", signed=True" if self.signed else ""
        return f"ThresholdCalibrator(target={self.target!r}, far={self.far}{signed}{fitted})"


def rejects(distance: ArrayLike, threshold: float) -> np.ndarray:
    """Whether the one verdict rule (:func:`siamkit.decision.accepts`) rejects ``distance`` at
    ``threshold`` however the two are held: each as float32 (a distance as the model computes
    it, a threshold in a float32 tensor) and as float64 (``siamkit verify``'s float, the
    threshold as ``siamkit.json`` stores it), so that no reader accepts it; an array of bools
    (:func:`~siamkit.evaluation.roc.rejected_by_every_reader`).

    >>> rejects(np.float32([0.3, 0.31]), 0.29999).tolist()  # 0.3 lies 1e-5 above it
    [False, True]
    """
    d = np.asarray(distance.detach().cpu() if isinstance(distance, Tensor) else distance)
    return rejected_by_every_reader(d.astype(np.float64), np.float64(threshold))


def highest_rejecting(distance: float) -> float:
    """The largest float32 threshold at which every reader rejects ``distance``
    (:func:`rejects`): :func:`~siamkit.evaluation.roc.largest_rejecting` with
    ``every_reader=True`` (its guarantee is stated there), for one distance.

    >>> t = highest_rejecting(0.3)
    >>> bool(rejects(0.3, t)[()]), bool(rejects(0.3, float(np.nextafter(np.float32(t), 1)))[()])
    (True, False)

    Raises:
        ValueError: ``distance`` is not a finite float32 number (nan, inf, or beyond float32's
            range, where the float32 readers see inf), or is so near -3.4e38 that only -inf
            rejects it: no float32 threshold answers.
    """
    return float(largest_rejecting(np.float64(distance), every_reader=True)[0])


def _as_decided(
    s: SortedScores, point: OperatingPoint, far: float, signed: bool = False
) -> OperatingPoint:
    """A FAR fit's ``point`` as siamkit decides with it: verify, a gallery and the text commands
    accept a distance up to the threshold *within float32 rounding*
    (:func:`siamkit.decision.room`: 1e-5, or 16 float32 steps' worth of a threshold beyond
    5.24), so a threshold less than that under the first impostor the fit rejects would accept
    it when deployed, one more false accept than ``far`` allows. Such a threshold is lowered to
    the bound at which every reader rejects that impostor *its room lower still*
    (:func:`~siamkit.evaluation.roc.rejecting_with_room`: room for the readers' own computation
    of the distance; for distances, not below 0 for that room alone; ``signed`` scores keep the
    whole room). The TAR is then the share of genuine
    distances the deployed rule accepts; any other point is kept as it is.

    >>> s = SortedScores(np.float32([0.1, 0.29998]), np.float32([0.3, 0.9]))
    >>> far_operating_point(s, None, 0.0).threshold  # rejects 0.3 with no room for a reader
    0.2999800145626068
    >>> point = _as_decided(s, far_operating_point(s, None, 0.0), 0.0)
    >>> round(point.threshold, 8), point.value  # 0.29998 is still accepted, 0.3 is not
    (0.29997995, 1.0)
    """
    from siamkit.decision import accepts

    k = false_accepts_allowed(far, s.n_impostor)
    if k >= s.n_impostor:
        return point
    highest = float(rejecting_with_room(np.array([float(s.impostor[k])]), signed)[0])
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
    signed: bool | None = None,
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
        signed: the values are scores that may be negative (see :class:`ThresholdCalibrator`);
            ``None`` (the default) takes them as signed when ``distance`` is cohort-normalised
            (:class:`~siamkit.distances.CohortNormalized`), as ``siamkit calibrate`` and
            training fit a score-normalised model.

    Returns:
        The threshold as a float (store it with the model).

    Example:
        >>> import torch
        >>> z = torch.tensor([[0.0], [0.1], [1.0], [1.2]])
        >>> round(calibrate_threshold(z, [0, 0, 1, 1], target="accuracy"), 3)
        0.2
    """
    from siamkit.distances import CohortNormalized

    if signed is None:
        signed = isinstance(resolve_distance(distance), CohortNormalized)
    pd = pair_distances(z, labels, distance, max_pairs=max_pairs, seed=seed)
    fit = ThresholdCalibrator(target, far=far, signed=signed)
    return fit.fit(pd.genuine, pd.impostor).threshold_


__all__ = ["Target", "ThresholdCalibrator", "calibrate_threshold", "highest_rejecting", "rejects"]
