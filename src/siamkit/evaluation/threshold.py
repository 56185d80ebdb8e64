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

from siamkit.evaluation._common import ArrayLike, DistanceLike, as_scores
from siamkit.evaluation.pairs import pair_distances
from siamkit.evaluation.roc import (
    OperatingPoint,
    SortedScores,
    best_accuracy_as_decided,
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
        elif self.target == "accuracy":  # as predict decides (best_accuracy counts strictly)
            point = best_accuracy_as_decided(s)
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
        return f"ThresholdCalibrator(target={self.target!r}, far={self.far}{fitted})"


def rejects(distance: ArrayLike, threshold: float) -> np.ndarray:
    """Whether the one verdict rule (:func:`siamkit.decision.accepts`) rejects ``distance`` at
    ``threshold`` however the two are held: each as float32 (a distance as the model computes
    it, a threshold in a float32 tensor) and as float64 (``siamkit verify``'s float, the
    threshold as ``siamkit.json`` stores it), so that no reader accepts it; an array of bools.

    >>> rejects(np.float32([0.3, 0.31]), 0.29999).tolist()  # 0.3 lies 1e-5 above it
    [False, True]
    """
    from siamkit.decision import ROUNDING

    d = np.asarray(distance.detach().cpu() if isinstance(distance, Tensor) else distance)
    d64, d32 = d.astype(np.float64), d.astype(np.float32)
    t64, t32 = float(threshold), np.float32(threshold)
    # siamkit.decision.accepts compares in float64 (the first); the others are the rule in
    # float32 arithmetic, as a reader of a float32 model's scores outside siamkit may compare
    # (NumPy 2 compares a float32 array with a Python float in float32), so that none accepts
    accepted = (
        (d64 <= t64 + ROUNDING)
        | (d32 <= t32 + np.float32(ROUNDING))
        | (d32 <= np.float32(t64 + ROUNDING))
        | (d64 <= float(t32 + np.float32(ROUNDING)))
    )
    return np.asarray(~accepted)


def highest_rejecting(distance: float) -> float:
    """The largest threshold at which every reader rejects ``distance`` (:func:`rejects`):
    :data:`siamkit.decision.ROUNDING` under it, and then as few float32 steps lower
    (``np.nextafter`` in float32) as float32 and float64 both need to reject it. A float32
    number, so the float64 that ``siamkit.json`` stores and the float32 a tensor holds are the
    same threshold. Found by bisection over the float32 numbers in order, not step by step: near
    0 a float32 step is as small as 1e-45, and an impostor within ROUNDING of 0 needs a
    threshold below 0.

    >>> t = highest_rejecting(0.3)
    >>> bool(rejects(0.3, t)[()]), bool(rejects(0.3, float(np.nextafter(np.float32(t), 1)))[()])
    (True, False)

    Raises:
        ValueError: ``distance`` is not a finite float32 number (nan, inf, or beyond float32's
            range, where the float32 readers see inf), or is so near -3.4e38 that only -inf
            rejects it: no float32 threshold answers.
    """
    from siamkit.decision import ROUNDING

    d = float(distance)
    if not np.isfinite(_float32(d)):
        raise ValueError(
            f"no float32 threshold rejects a distance of {d:g}, which is not a finite float32 "
            "number: give distances within float32's range (about 3.4e38)"
        )
    hi, bottom = _float32_rank(np.float32(d)), _float32_rank(np.float32(-np.inf))
    reach = 2 * ROUNDING
    lo = max(_float32_rank(_float32(d - reach)), bottom)
    while not rejects(d, float(_ranked_float32(lo))):  # a float32 step above 2 x ROUNDING
        reach *= 2  # -inf rejects every finite d: the loop ends there at the latest
        lo = max(_float32_rank(_float32(d - reach)), bottom)
    while hi - lo > 1:  # lo rejects, hi does not: the rule is monotone in the threshold
        mid = (lo + hi) // 2
        if rejects(d, float(_ranked_float32(mid))):
            lo = mid
        else:
            hi = mid
    if lo == bottom:
        raise ValueError(
            f"no float32 threshold rejects a distance of {d:g}: every finite one accepts it "
            "within float32 rounding; give distances within float32's range (about 3.4e38)"
        )
    return float(_ranked_float32(lo))


def _float32(x: float) -> np.float32:
    """``x`` as float32, inf beyond float32's range without NumPy's overflow warning."""
    with np.errstate(over="ignore"):
        return np.float32(x)


def _float32_rank(x: np.float32) -> int:
    """The place of float32 ``x`` among the float32 numbers in order (0.0 and -0.0 at 0)."""
    bits = int(np.float32(x).view(np.int32))
    return bits if bits >= 0 else -(bits & 0x7FFFFFFF)


def _ranked_float32(rank: int) -> np.float32:
    """The float32 number at ``rank`` (:func:`_float32_rank`'s inverse)."""
    bits = rank if rank >= 0 else (-rank) | 0x80000000
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


def _as_decided(s: SortedScores, point: OperatingPoint, far: float) -> OperatingPoint:
    """A FAR fit's ``point`` as siamkit decides with it: verify, a gallery and the text commands
    accept a distance up to the threshold *within float32 rounding*
    (:data:`siamkit.decision.ROUNDING`), so a threshold less than that under the first
    impostor the fit rejects would accept it when deployed, one more false accept than ``far``
    allows. Such a threshold is lowered until every reader rejects that impostor
    (:func:`highest_rejecting`) *a further ROUNDING above it*: the readers recompute the
    distance their own way (verify a float32 difference or cosine, the ONNX runtime in float64,
    a FAISS gallery), several float32 steps off the float64 product the fit was given
    (:func:`siamkit.evaluation.pairs.pair_distances`), and with no room for that a 64-D cosine
    fit's rejected impostor was accepted by verify in 54 of 300 fits. Not below 0 for that
    room, though, when the impostor itself is rejected at 0 (above ROUNDING): 0 keeps what room
    there is, where a threshold below 0 would be refused. The TAR is then the share of genuine
    distances the deployed rule accepts; any other point is kept as it is.

    >>> s = SortedScores(np.float32([0.1, 0.29998]), np.float32([0.3, 0.9]))
    >>> far_operating_point(s, None, 0.0).threshold  # accepts 0.3 within the rounding
    0.2999800145626068
    >>> point = _as_decided(s, far_operating_point(s, None, 0.0), 0.0)
    >>> round(point.threshold, 8), point.value  # 0.29998 is still accepted, 0.3 is not
    (0.29997995, 1.0)
    """
    from siamkit.decision import ROUNDING, accepts

    k = false_accepts_allowed(far, s.n_impostor)
    if k >= s.n_impostor:
        return point
    d = float(s.impostor[k])
    highest = highest_rejecting(d - ROUNDING)
    if highest < 0 <= highest_rejecting(d):  # not below 0 for the room alone (see above)
        highest = 0.0
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


__all__ = ["Target", "ThresholdCalibrator", "calibrate_threshold", "highest_rejecting", "rejects"]
