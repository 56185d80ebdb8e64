"""Verification metrics from genuine (same-class) and impostor (different-class) distances.

A pair is *accepted* (predicted "same") when its distance is ``<= threshold``. With ``t`` the
threshold: TAR(t) = share of genuine pairs accepted, FAR(t) = share of impostor pairs accepted,
FRR(t) = 1 - TAR(t). These curves are exact in ``t``; a model's verdict at its threshold also
accepts a distance within float32 rounding above it (see :mod:`siamkit.decision`), and the rates
siamkit reports at one given threshold count by that rule. Everything works on sorted copies of the two score arrays with
``searchsorted``, so millions of pairs take well under a second and no Python loop runs per pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np

from siamkit.evaluation._common import ArrayLike, as_scores, as_sequence


class RocCurve(NamedTuple):
    """Points of the ROC curve, ordered by ascending distance threshold; each ``(T,)``.

    ``thresholds[0]`` is ``-inf`` (nothing accepted: FAR = TAR = 0), the last accepts everything.
    ``far`` and ``tar`` equal scikit-learn's ``fpr`` and ``tpr`` for the score ``-distance``.
    """

    far: np.ndarray
    tar: np.ndarray
    thresholds: np.ndarray


class OperatingPoint(NamedTuple):
    """A metric value and the distance threshold that achieves it."""

    value: float
    threshold: float


class SortedScores:
    """Genuine and impostor distances, sorted once, with vectorised TAR/FAR at any threshold.

    Example:
        >>> s = SortedScores([0.1, 0.3], [0.2, 0.9])
        >>> float(s.tar(0.2)), float(s.far(0.2))
        (0.5, 0.5)
    """

    def __init__(self, genuine: ArrayLike, impostor: ArrayLike) -> None:
        g = as_scores(genuine, "genuine")
        m = as_scores(impostor, "impostor")
        if g.size == 0 or m.size == 0:
            raise ValueError(
                f"verification needs both genuine and impostor pairs, got {g.size} genuine and "
                f"{m.size} impostor; use at least two classes and a class with two items"
            )
        dtype = np.result_type(g.dtype, m.dtype)
        self.genuine = np.sort(g.astype(dtype, copy=False))  # (G,)
        self.impostor = np.sort(m.astype(dtype, copy=False))  # (I,)
        self._union: np.ndarray | None = None

    @property
    def n_genuine(self) -> int:
        """How many genuine (same-class) distances there are."""
        return int(self.genuine.size)

    @property
    def n_impostor(self) -> int:
        """How many impostor (different-class) distances there are."""
        return int(self.impostor.size)

    def accepted(self, t: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Counts of accepted genuine and impostor pairs at thresholds ``t``."""
        return (
            np.asarray(np.searchsorted(self.genuine, t, side="right")),
            np.asarray(np.searchsorted(self.impostor, t, side="right")),
        )

    def tar(self, t: ArrayLike) -> np.ndarray:
        """True accept rate at each threshold in ``t``: the share of genuine distances ``<= t``."""
        return np.asarray(np.searchsorted(self.genuine, t, side="right") / self.n_genuine)

    def far(self, t: ArrayLike) -> np.ndarray:
        """False accept rate at each threshold in ``t``: the share of impostor distances ``<= t``."""
        return np.asarray(np.searchsorted(self.impostor, t, side="right") / self.n_impostor)

    def union(self) -> np.ndarray:
        """All distances, sorted ``(G + I,)`` (a merge of two sorted runs), computed once."""
        if self._union is None:
            self._union = np.sort(np.concatenate([self.genuine, self.impostor]), kind="stable")
        return self._union

    def below(self, value: float) -> float:
        """The largest observed distance strictly below ``value`` (or just below it if none)."""
        cands = []
        for arr in (self.genuine, self.impostor):
            i = int(np.searchsorted(arr, value, side="left"))
            if i > 0:
                cands.append(float(arr[i - 1]))
        return max(cands) if cands else step_below(value, self.impostor.dtype)


def step_below(value: float, dtype: np.dtype) -> float:
    """The largest number of the scores' own float ``dtype`` below ``value``: a threshold at
    which ``value`` is strictly rejected (``value <= t`` is false) in that dtype too, as the
    exact curves here count; a step taken in float64 below a float32 distance rounds back up to
    it when compared in float32. It is one step, not a verdict: siamkit decides "same" up to
    :func:`siamkit.decision.room` above a threshold, so a model still accepts ``value`` at
    ``t``; a far fit that must reject a pair as models decide is lowered further
    (:func:`siamkit.evaluation.threshold.highest_rejecting`).

    >>> t = step_below(3e-4, np.dtype(np.float32))
    >>> bool(np.float32(3e-4) <= t), bool(np.float32(3e-4) <= float(np.nextafter(3e-4, 0)))
    (False, True)
    """
    kind = dtype.type if dtype.kind == "f" else np.float64
    return float(np.nextafter(kind(value), kind(-np.inf)))


def _scores(genuine: ArrayLike | SortedScores, impostor: ArrayLike | None) -> SortedScores:
    if isinstance(genuine, SortedScores):
        return genuine
    return SortedScores(genuine, impostor)


def roc_curve(genuine: ArrayLike, impostor: ArrayLike, max_points: int | None = None) -> RocCurve:
    """The ROC curve (FAR, TAR, thresholds) of a distance-threshold verifier.

    Args:
        genuine: ``(G,)`` distances of same-class pairs.
        impostor: ``(I,)`` distances of different-class pairs.
        max_points: ``None`` for every distinct threshold (like scikit-learn with
            ``drop_intermediate=False``); otherwise about this many exact points, dense at
            low FAR and low FRR, which is enough to draw ROC and DET curves.

    Example:
        >>> roc_curve([0.1, 0.4], [0.3, 0.9]).far.tolist()
        [0.0, 0.0, 0.5, 0.5, 1.0]
    """
    s = _scores(genuine, impostor)
    if max_points is None:
        thr = np.unique(s.union())
    else:
        thr = _sampled_thresholds(s, max(8, int(max_points)))
    thr = np.concatenate([[-np.inf], thr.astype(np.float64)])
    ta, fa = s.accepted(thr)
    return RocCurve(far=fa / s.n_impostor, tar=ta / s.n_genuine, thresholds=thr)


def _sampled_thresholds(s: SortedScores, points: int) -> np.ndarray:
    """Observed distances at uniform ranks of all pairs and log-spaced ranks of each tail."""
    u = s.union()
    quarter = max(2, points // 4)
    picks = [u[np.linspace(0, u.size - 1, 2 * quarter).round().astype(np.int64)]]
    for arr, from_top in ((s.impostor, False), (s.genuine, True)):
        ranks = np.unique(np.geomspace(1, arr.size, quarter).round().astype(np.int64)) - 1
        picks.append(arr[arr.size - 1 - ranks] if from_top else arr[ranks])
    return np.unique(np.concatenate(picks))


def roc_auc(genuine: ArrayLike | SortedScores, impostor: ArrayLike | None = None) -> float:
    """Area under the ROC curve: P(genuine distance < impostor distance), ties counting 1/2.

    Exact (Mann-Whitney form), equal to ``sklearn.metrics.roc_auc_score`` on the score
    ``-distance``.

    Example:
        >>> roc_auc([0.1, 0.2], [0.2, 0.9])
        0.875
    """
    s = _scores(genuine, impostor)
    left = np.searchsorted(s.impostor, s.genuine, side="left")
    right = np.searchsorted(s.impostor, s.genuine, side="right")
    greater = int((s.n_impostor - right).sum(dtype=np.int64))
    ties = int((right - left).sum(dtype=np.int64))
    return (2 * greater + ties) / (2 * s.n_genuine * s.n_impostor)


def eer(genuine: ArrayLike | SortedScores, impostor: ArrayLike | None = None) -> OperatingPoint:
    """Equal error rate: where FAR = FRR, linearly interpolated between adjacent curve points.

    Returns:
        ``OperatingPoint(value=eer, threshold=t)`` with ``t`` interpolated the same way.

    Example:
        >>> eer([1.0, 2.0, 3.0, 4.0], [2.5, 5.0, 6.0, 7.0])
        OperatingPoint(value=0.25, threshold=3.0)
    """
    s = _scores(genuine, impostor)
    u = s.union()
    lo, hi = 0, u.size - 1  # first index k with FAR(u[k]) - FRR(u[k]) >= 0 (true at the end)
    while lo < hi:
        mid = (lo + hi) // 2
        if s.far(u[mid]) - (1.0 - s.tar(u[mid])) >= 0:
            hi = mid
        else:
            lo = mid + 1
    t_k = float(u[lo])
    far_k, frr_k = float(s.far(t_k)), 1.0 - float(s.tar(t_k))
    prev = int(np.searchsorted(u, t_k, side="left")) - 1
    if prev < 0:  # previous point is "accept nothing": FAR 0, FRR 1
        t_p, far_p, frr_p = t_k, 0.0, 1.0
    else:
        t_p = float(u[prev])
        far_p, frr_p = float(s.far(t_p)), 1.0 - float(s.tar(t_p))
    gap_p, gap_k = frr_p - far_p, frr_k - far_k  # > 0 and <= 0
    alpha = gap_p / (gap_p - gap_k) if gap_p > gap_k else 1.0
    return OperatingPoint(far_p + alpha * (far_k - far_p), t_p + alpha * (t_k - t_p))


def false_accepts_allowed(far: float, n_impostor: int) -> int:
    """The most impostors ``k`` of ``n_impostor`` that may be accepted at a false accept rate of
    at most ``far``: the largest ``k`` with ``k / n_impostor <= far``, the very rate TAR@FAR's
    point then has. ``far * n_impostor`` rounds, either way (``0.29 * 100`` is just below 29):
    the count is checked against the rate, not nudged, so the point's FAR never exceeds ``far``.

    >>> false_accepts_allowed(0.29, 100), false_accepts_allowed(0.3333333, 3)
    (29, 0)
    """
    k = min(int(np.floor(far * n_impostor)), n_impostor)
    if k < n_impostor and (k + 1) / n_impostor <= far:
        k += 1
    while k > 0 and k / n_impostor > far:
        k -= 1
    return k


def far_operating_point(
    genuine: ArrayLike | SortedScores, impostor: ArrayLike | None, far: float
) -> OperatingPoint:
    """The highest TAR with FAR <= ``far``, and the largest observed threshold achieving it.

    Example:
        >>> far_operating_point([0.1, 0.3], [0.2, 0.9], far=0.0)
        OperatingPoint(value=0.5, threshold=0.1)
    """
    if not 0.0 <= far <= 1.0:
        raise ValueError(f"far must be a rate in [0, 1], got {far}")
    s = _scores(genuine, impostor)
    k = false_accepts_allowed(far, s.n_impostor)
    if k >= s.n_impostor:
        return OperatingPoint(1.0, float(max(s.genuine[-1], s.impostor[-1])))
    first_rejected = s.impostor[k]
    tar = np.searchsorted(s.genuine, first_rejected, side="left") / s.n_genuine
    return OperatingPoint(float(tar), s.below(float(first_rejected)))


def tar_at_far(
    genuine: ArrayLike | SortedScores,
    impostor: ArrayLike | None = None,
    fars: Iterable[float] = (1e-2, 1e-3),
) -> dict[float, float]:
    """TAR at each target FAR: ``{far: max TAR over thresholds with FAR <= far}``.

    Example:
        >>> tar_at_far([0.1, 0.3], [0.2, 0.9], fars=(0.5,))
        {0.5: 1.0}
    """
    targets = as_sequence(fars, "fars", "(0.01,)")
    s = _scores(genuine, impostor)
    return {float(f): far_operating_point(s, None, float(f)).value for f in targets}


def decided_threshold(strict: float, lowest: float) -> float:
    """The threshold at which a model, accepting up to ``room(t)`` above it
    (:func:`siamkit.decision.accepts`, in float64), accepts the distances a strict count
    (``d <= strict``) accepts: the smallest float64 ``t`` with ``t + room(t) >= strict``, or,
    for a ``strict`` below every distance (``lowest``: accept nothing), the largest ``t`` with
    ``t + room(t) < lowest``. Exact for float32 distances (the next one lies a float32 step
    away, far more than the float64 rounding of ``t + room(t)``). For
    :func:`best_accuracy`'s threshold, which a model taken at its face value may reach less
    well: an impostor within the room above it is accepted too.

    >>> t = decided_threshold(0.2, 0.1)
    >>> t + 1e-5 >= 0.2 > float(np.nextafter(t, 0)) + 1e-5
    True
    """
    if strict < lowest:
        return float(largest_rejecting(np.array([lowest], np.float64))[0])
    # the smallest t accepting ``strict``: the next float64 after the largest rejecting it
    return float(np.nextafter(largest_rejecting(np.array([strict], np.float64))[0], np.inf))


def _order_key(x: np.ndarray) -> np.ndarray:
    """float32 or float64 values as int64 keys in the same order, one key a step of their own
    dtype apart (-0.0 and 0.0 share 0), so that a bisection over the keys ends in at most 64
    halvings wherever the values lie (a walk one float at a time near 0 takes ~1e300 steps to
    move t + room(t))."""
    if x.dtype == np.float32:
        bits = x.view(np.int32).astype(np.int64)
        return np.where(bits < 0, -(bits & np.int64(0x7FFFFFFF)), bits)
    bits = x.view(np.int64)
    return np.where(bits < 0, -(bits & np.int64(0x7FFFFFFFFFFFFFFF)), bits)


def _from_order_key(key: np.ndarray, dtype: type[np.floating]) -> np.ndarray:
    """The values of :func:`_order_key`'s keys, of ``dtype`` (float32 or float64)."""
    if dtype is np.float32:
        bits32 = np.where(key < 0, (-key) | np.int64(0x80000000), key)
        return bits32.astype(np.uint32).view(np.float32)
    bits = np.where(key < 0, (-key) | np.int64(-0x8000000000000000), key)
    return bits.view(np.float64)


def rejected_by_every_reader(distance: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Whether the one verdict rule (:func:`siamkit.decision.accepts`) rejects each float64
    ``distance`` at each ``threshold`` (broadcast) however a reader holds the two: each as
    float32 (a distance as a float32 model computes it, a threshold in a float32 tensor) and
    as float64 (``siamkit verify``'s float, the threshold as ``siamkit.json`` stores it).
    The first clause is :func:`~siamkit.decision.accepts` itself (float64); the others are the
    rule in float32 arithmetic, as a reader of a float32 model's scores outside siamkit may
    compare (NumPy 2 compares a float32 array with a Python float in float32), the room
    (:func:`siamkit.decision.room`) taken in the threshold's own precision."""
    from siamkit.decision import room

    d64 = np.asarray(distance, np.float64)
    t64 = np.asarray(threshold, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        d32, t32 = d64.astype(np.float32), t64.astype(np.float32)
        edge64, edge32 = t64 + room(t64), t32 + room(t32)
        accepted = (
            (d64 <= edge64)
            | (d32 <= edge32)
            | (d32 <= edge64.astype(np.float32))
            | (d64 <= edge32.astype(np.float64))
        )
    return np.asarray(~accepted)


def largest_rejecting(values: ArrayLike, every_reader: bool = False) -> np.ndarray:
    """For each distance in ``values``, the largest threshold at which the verdict rule
    (:func:`siamkit.decision.accepts`: ``d <= t + room(t)``) rejects it. The one search both
    kinds of fit use: a bisection over the floats' order (:func:`_order_key`), at most 64
    halvings at any scale, the rule being monotone in the threshold.

    The guarantee, by ``every_reader``:

    - ``False`` (a curve's threshold, :func:`decided_threshold`): the largest **float64**
      ``t`` with ``accepts(d, t)`` False, i.e. ``t + room(t) < d`` in float64. ``accepts``
      decides in float64 whatever the distance's dtype, so this holds for a float32 distance
      as for a float64 one.
    - ``True`` (a saved fit's threshold): the largest **float32** number ``t`` at which every
      reader rejects ``d`` (:func:`rejected_by_every_reader`: the distance and the threshold
      each held as float32 or float64, the rule in float32 or float64 arithmetic). A float32
      number, so the float64 that ``siamkit.json`` stores and the float32 a tensor holds are
      the same threshold. Near 0 a float32 step is as small as 1e-45, and a distance within
      ROUNDING (the room at 0) of 0 needs a threshold below 0.

    >>> t = largest_rejecting(np.array([0.3, 1e-5, 0.0]))
    >>> bool(np.all(t + 1e-5 < [0.3, 1e-5, 0.0]))
    True
    >>> bool(np.all(np.nextafter(t, np.inf) + 1e-5 >= [0.3, 1e-5, 0.0]))
    True
    >>> t32 = largest_rejecting(np.array([0.3]), every_reader=True)
    >>> bool(t32[0] == np.float32(t32[0])), bool(t32[0] < t[0])
    (True, True)

    Raises:
        ValueError: a value is not finite; or, with ``every_reader``, is beyond float32's
            range (the float32 readers see inf) or so near -3.4e38 that only -inf rejects it:
            no float32 threshold answers.
    """
    from siamkit.decision import room

    v = np.atleast_1d(np.asarray(values, np.float64))
    if not every_reader:
        if not np.isfinite(v).all():
            raise ValueError("distances must be finite to find a threshold rejecting them")
        # rejects v: lo + room(lo) < v at any scale (room(lo) exceeds room(v) by a 2**-18 share)
        lo = v - 2 * room(v) - np.abs(v) * 1e-12
        lo_key, hi_key = _order_key(lo), _order_key(v)  # v itself is accepted: v <= v + room(v)
        return _bisect(lo_key, hi_key, np.float64, lambda t: t + room(t) < v)
    with np.errstate(over="ignore"):
        v32 = v.astype(np.float32)
    for d in v[~np.isfinite(v32)][:1]:
        raise ValueError(
            f"no float32 threshold rejects a distance of {d:g}, which is not a finite float32 "
            "number: give distances within float32's range (about 3.4e38)"
        )
    bottom = _order_key(np.array([-np.inf], np.float32))[0]
    hi_key = _order_key(v32)  # every reader accepts v at float32(v)
    reach = 2 * room(v)
    while True:  # a float32 step above twice the room: widen until every reader rejects
        with np.errstate(over="ignore"):
            lo_key = np.maximum(_order_key((v - reach).astype(np.float32)), bottom)
        short = ~rejected_by_every_reader(v, _from_order_key(lo_key, np.float32))
        if not short.any():  # -inf rejects every finite v: the loop ends there at the latest
            break
        reach = np.where(short, reach * 2, reach)
    t = _bisect(lo_key, hi_key, np.float32, lambda t: rejected_by_every_reader(v, t))
    for d in v[_order_key(t) == bottom][:1]:
        raise ValueError(
            f"no float32 threshold rejects a distance of {d:g}: every finite one accepts it "
            "within float32 rounding; give distances within float32's range (about 3.4e38)"
        )
    return t.astype(np.float64)


def _bisect(
    lo_key: np.ndarray,
    hi_key: np.ndarray,
    dtype: type[np.floating],
    rejected: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The largest value of ``dtype`` between the keys at which ``rejected`` holds, for each
    element: ``lo_key`` rejects, ``hi_key`` does not, and the rule is monotone between."""
    while True:
        gap = hi_key - lo_key
        if not (gap > 1).any():
            return _from_order_key(lo_key, dtype)
        mid = lo_key + gap // 2
        yes = rejected(_from_order_key(mid, dtype))
        lo_key = np.where(yes, mid, lo_key)
        hi_key = np.where(yes, hi_key, mid)


def rejecting_with_room(values: ArrayLike, signed: bool = False) -> np.ndarray:
    """For each distance, the highest threshold a fit may take while it counts that distance
    rejected: the largest float32 ``t`` at which every reader rejects it even computed
    :func:`~siamkit.decision.room` lower (:func:`largest_rejecting` of ``d - room(d)``,
    ``every_reader=True``; 1e-5 up to 5.24, 16 float32 steps' worth of ``d`` beyond, where 1e-5
    was less than a step from 128 on and verify's float32 distance a step under the fit's
    accepted a far fit's impostor). The readers recompute a distance their own way (verify a float32
    difference or cosine, the ONNX runtime in float64, a FAISS gallery), several float32 steps
    off the float64 product a fit is given (:func:`siamkit.evaluation.pairs.pair_distances`);
    with no room a 64-D cosine far fit's rejected impostor was accepted by verify in 54 of 300
    fits. For distances (not ``signed``), not below 0 for that room when ``d`` itself is
    rejected at 0: 0 keeps what room there is, where a threshold below 0 would be refused. A
    score-normalised model's scores (``signed``) may take a threshold below 0, so they keep
    the whole room. Non-decreasing in ``d``.

    >>> rejecting_with_room(np.array([0.3])).round(8).tolist()
    [0.29997995]
    >>> rejecting_with_room(np.array([1.5e-5])).tolist(), bool(rejecting_with_room([1.5e-5], True)[0] < 0)
    ([0.0], True)
    """
    from siamkit.decision import room

    v = np.atleast_1d(np.asarray(values, np.float64))
    t = largest_rejecting(v - room(v), every_reader=True)
    low = np.flatnonzero(t < 0)
    if not signed and low.size:
        t[low[largest_rejecting(v[low], every_reader=True) >= 0]] = 0.0
    return t


READER_STEPS = 4
"""How many float32 steps off a reader may compute a distance (verify's float32, the ONNX
runtime's float64, torch's own order of sums) and still count as the fit counted it; steps at
the distance's scale, and never smaller than at 1.0 (:func:`reader_step`)."""


def reader_step(values: np.ndarray) -> np.ndarray:
    """A float32 step at the scale of each float64 value, or at 1.0 below it: a cosine
    distance ``1 - dot`` of unit float32 vectors is off by about a float32 step of 1.0 (up to
    1.3 measured, 64-D and 384-D) however small it is, thousands of steps of a distance near
    1e-4; and NumPy's float32 ``1 - z @ z.T`` lay 3 steps of 1.0 from the fit's own cosine of
    64-D near-duplicates (s56_m1), so a narrower floor lets such a reader flip a genuine pair."""
    scale = np.maximum(np.abs(values), 1.0).astype(np.float32)
    return np.spacing(scale).astype(np.float64)


def reader_slack(values: np.ndarray) -> np.ndarray:
    """:data:`READER_STEPS` of :func:`reader_step` at each float64 value."""
    return READER_STEPS * reader_step(values)


def worst_case_bounds(values: np.ndarray, signed: bool = True) -> np.ndarray:
    """For each genuine value ``v``: the largest distance a reader may accept at a threshold
    every reader accepts ``v`` at (``v`` at ``t + room(t) - slack``, that one at ``v + 2 x
    slack``), with two float32 steps more for the float32 threshold's rounding, all at the
    larger scale of the two (float64). Distances (not ``signed``) take no threshold below 0,
    at which a reader may accept up to :func:`zero_bound`."""
    v = values.astype(np.float64)
    up = v + 2 * READER_STEPS * reader_step(v)
    bounds = v + (2 * READER_STEPS + 2) * reader_step(np.maximum(np.abs(v), np.abs(up)))
    return bounds if signed else np.maximum(bounds, zero_bound())


def zero_bound() -> float:
    """The largest distance a reader may accept at a threshold of 0: ROUNDING (the room at 0)
    and the slack."""
    from siamkit.decision import room

    at_zero = room(0.0)
    return float(at_zero + (READER_STEPS + 2) * reader_step(np.array([at_zero]))[0])


def window_centres(
    values: np.ndarray, signed: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each genuine value ``v`` whose window ``(v, bound]`` (:func:`worst_case_bounds`)
    holds pairs: ``(t, genuine_edge, impostor_edge)``. ``t`` is the window's middle less its
    room (:func:`siamkit.decision.room`), as float32 (for distances, not below 0), so ``v`` and
    every impostor above the bound keep half the window of room, at least the readers' slack.
    The pairs inside the window are counted as decided at ``t`` by readers a few float32 steps
    of the pair itself off: genuine pairs up to ``genuine_edge`` (``v`` at least) and impostors up to
    ``impostor_edge`` (the bound at most), :data:`READER_STEPS` + 1 steps of ``t + room(t)``
    either side of it. Not as the farthest cosine reader: near 0 its slack is steps of 1.0,
    and counting every pair within it as lost understated dense distances at 0.001 by 1.6e-3
    (s56_R1); there a cosine reader's errors go both ways, and it gets the value as decided
    give or take the few pairs within its error of the threshold (about 1e-5 in 2M)."""
    from siamkit.decision import room

    v = values.astype(np.float64)
    bounds = worst_case_bounds(v, signed)
    mid = (v + bounds) / 2
    t = (mid - room(mid)).astype(np.float32).astype(np.float64)
    if not signed:  # the window reaches zero_bound, a reader's reach at 0
        t = np.maximum(t, 0.0)
    edge = t + room(t)
    near = (READER_STEPS + 1) * np.spacing(np.abs(edge).astype(np.float32)).astype(np.float64)
    return t, np.maximum(v, edge - near), np.minimum(bounds, edge + near)


def window_numerator(
    genuine_le: int, impostor_le: int, n_g: int, n_i: int, balanced: bool = True
) -> int:
    """:func:`worst_case_fit`'s integer numerator for one pair of counts."""
    if balanced:
        return genuine_le * n_i + (n_i - impostor_le) * n_g
    return genuine_le + n_i - impostor_le


def worst_case_fit(
    values: np.ndarray,
    g_le: np.ndarray,
    i_le_slack: np.ndarray,
    n_genuine: int,
    n_impostor: int,
    balanced: bool = True,
) -> tuple[int, int, int]:
    """The best worst-case reader count over the distinct genuine ``values`` (sorted), given
    the genuine pairs ``<=`` each and the impostor pairs ``<=`` each one's
    :func:`worst_case_bounds`: ``(k, numerator, denominator)``, ``k = -1`` where accepting
    nothing is best. Of equal counts the smallest value is taken."""
    n_g, n_i = n_genuine, n_impostor
    ta, fa = g_le.astype(np.int64), i_le_slack.astype(np.int64)
    if balanced:  # integer numerators, so equal accuracies compare equal
        num, num_none, den = ta * n_i + (n_i - fa) * n_g, n_i * n_g, 2 * n_g * n_i
    else:
        num, num_none, den = ta + n_i - fa, n_i, n_g + n_i
    best = int(np.argmax(num))
    if num[best] < num_none:
        return -1, int(num_none), int(den)
    return best, int(num[best]), int(den)


def worst_case_threshold(value: float, rejected: float, signed: bool) -> float:
    """Where to put the threshold of a worst-case fit that accepts the genuine ``value`` and
    must reject the distance ``rejected`` (the smallest impostor above its bound; ``inf`` for
    none): at ``value`` itself where every reader still rejects ``rejected`` its room lower
    there (:func:`rejecting_with_room`: both keep the room, as in a far fit), else at
    their middle less its room, which gives both ``(rejected - value) / 2`` of room (at least
    the readers' slack, by the bound); distances (not ``signed``) stop at 0. Where the slack
    would pass half the room, always the middle, or the slack above ``value`` where nothing is
    to be rejected: with the absolute room of 1e-5 that was from 16 on (4 float32 steps are
    7.6e-6 there); the room (:func:`siamkit.decision.room`) now grows with ``value`` and stays
    at least four times the slack.

    Example:
        >>> worst_case_threshold(15.9, 16.9, False), worst_case_threshold(16.0, 17.0, False)
        (15.9, 16.0)
        >>> worst_case_threshold(16.0, 16.00003, False)  # their middle less room(16.000015)
        15.999984741210938
    """
    from siamkit.decision import room

    # where the readers' slack passes half the room, the genuine edge is kept room above the
    # threshold, so never at it (with a room of 1e-5, from 16 on; the scale-relative room
    # keeps four times the slack, so a guard now)
    wide = float(reader_slack(np.array([value]))[0]) > room(value) / 2
    if not np.isfinite(rejected):
        return value + float(reader_slack(np.array([value]))[0]) if wide else value
    if not wide and value <= rejecting_with_room(np.array([rejected]), signed)[0]:
        return value
    middle = (value + rejected) / 2
    mid = float(np.float32(middle - room(middle)))
    if not signed and mid < 0 <= value:
        mid = 0.0
    return mid


def best_accuracy_as_decided(
    genuine: ArrayLike | SortedScores,
    impostor: ArrayLike | None = None,
    balanced: bool = True,
    signed: bool = False,
) -> OperatingPoint:
    """The best-accuracy threshold as readers decide at it, for a fit to save and for
    evaluate's ``best_threshold`` alike (:func:`~siamkit.evaluation.verification_report` and
    the streamed report take the same counts, so the three agree): a pair is "same" up to
    ``room(t)`` above the threshold (:func:`siamkit.decision.accepts`, in float64), and each
    reader computes the distance its own way, up to :data:`READER_STEPS` float32 steps off.

    The fit maximises the worst-case reader count: at a threshold ``t`` every reader accepts
    the genuine pairs up to ``t + room(t) - slack`` and any reader may accept the impostors up
    to ``t + room(t) + slack``. That count is best where ``t + room(t) - slack`` is a genuine
    distance ``v``, so the candidates are the genuine distances (and accepting nothing), each
    counting the genuine pairs ``<= v`` and the impostors ``<= v + 2 * slack``
    (:func:`worst_case_bounds`); unlike a filter on wide plateaus, it never walks away from
    the best in dense data. Where that window ``(v, bound]`` holds impostors, the threshold
    sits at its centre (:func:`window_centres`: ``v`` and the impostors above the bound keep
    half the window of room) and the value is the count there as decided, the pairs inside
    the window judged by readers a few float32 steps of the pair itself off: near 0 the window
    is 10 float32 steps of 1.0, and counting all its impostors as accepted saved 1.6e-3 below
    the curve's best on dense distances at 0.001, where a model at the threshold reached it
    (s56_R1). Else the value is the window's count, which every reader reaches, and the
    threshold is placed by :func:`worst_case_threshold`: at ``v`` where the smallest impostor
    above the bound keeps the room there, else at their middle less the room. The
    value can lie below :func:`best_accuracy`'s strict curve point by the pairs the window's
    choice gives up (about 6e-5 at 0.001 with 2M impostors, a few in 16M at 1). ``signed``: score-normalised scores may be negative; distances stop
    at 0 (a threshold of 0 lets a reader accept up to :func:`zero_bound`, counted so). Far and
    EER fits are not this fit and do not move.

    Example:
        >>> point = best_accuracy_as_decided([0.1, 0.19998, 0.7], [0.2, 0.5, 0.9])
        >>> round(point.value, 4), round(point.threshold, 7)
        (0.8333, 0.19998)
        >>> point = best_accuracy_as_decided([0.1, 0.5], [0.500012, 0.9])  # 1.2e-5 apart
        >>> point.value, round(point.threshold, 7)  # their middle, 0.500006, less the room
        (1.0, 0.499996)
    """
    s = _scores(genuine, impostor)
    g64, i64 = s.genuine.astype(np.float64), s.impostor.astype(np.float64)
    values, counts = np.unique(g64, return_counts=True)
    g_le = np.cumsum(counts)
    i_le = np.searchsorted(i64, worst_case_bounds(values, signed), side="right")
    k, num, den = worst_case_fit(values, g_le, i_le, s.n_genuine, s.n_impostor, balanced)
    if k < 0:
        lowest = min(float(g64[0]), float(i64[0]))
        return OperatingPoint(num / den, float(rejecting_with_room(np.array([lowest]), signed)[0]))
    c = int(i_le[k])
    if c > int(np.searchsorted(i64, values[k], side="right")):  # impostors in the window
        t, g_edge, i_edge = (float(x[0]) for x in window_centres(values[k : k + 1], signed))
        ta = int(np.searchsorted(g64, g_edge, side="right"))
        fa = int(np.searchsorted(i64, i_edge, side="right"))
        num = window_numerator(ta, fa, s.n_genuine, s.n_impostor, balanced)
        return OperatingPoint(num / den, t)
    rejected = float(i64[c]) if c < i64.size else np.inf
    return OperatingPoint(num / den, worst_case_threshold(float(values[k]), rejected, signed))


def best_accuracy(
    genuine: ArrayLike | SortedScores, impostor: ArrayLike | None = None, balanced: bool = True
) -> OperatingPoint:
    """The threshold with the highest pair accuracy.

    Args:
        balanced: ``True`` maximises ``(TAR + 1 - FAR) / 2``, which does not depend on how many
            more impostor than genuine pairs there are; ``False`` maximises plain accuracy over
            the given pairs.

    Returns:
        ``OperatingPoint(value=accuracy, threshold=t)``; ``t`` is an observed genuine distance
        (the smallest one reaching the best accuracy).

    Example:
        >>> best_accuracy([0.1, 0.2, 0.7], [0.5, 0.9, 1.0])
        OperatingPoint(value=0.8333333333333334, threshold=0.2)
    """
    s = _scores(genuine, impostor)
    values, counts = np.unique(s.genuine, return_counts=True)  # candidates: genuine distances
    ta = np.cumsum(counts)
    fa = np.searchsorted(s.impostor, values, side="right")
    n_g, n_i = s.n_genuine, s.n_impostor
    if balanced:  # integer numerators, so equal accuracies compare equal
        num, num_none, den = ta * n_i + (n_i - fa) * n_g, n_i * n_g, 2 * n_g * n_i
    else:
        num, num_none, den = ta + n_i - fa, n_i, n_g + n_i
    best = int(np.argmax(num))
    if num[best] < num_none:  # rejecting everything is best
        lowest = float(min(s.genuine[0], s.impostor[0]))
        return OperatingPoint(num_none / den, step_below(lowest, s.impostor.dtype))
    return OperatingPoint(float(num[best] / den), float(values[best]))
