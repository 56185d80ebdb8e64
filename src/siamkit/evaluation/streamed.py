"""Verification metrics of all unordered pairs without holding the impostor distances.

:func:`~siamkit.evaluation.roc` works on sorted copies of every genuine and impostor distance:
20,000 items of 100 classes make ~198M impostor pairs and peaked at ~5 GB. :class:`StreamedPairs`
keeps the genuine distances (``sum n_c (n_c - 1) / 2`` of them, few) and streams the impostors
block by block, as :func:`~siamkit.evaluation.all_pair_distances` computes them (same blocks,
so the same values): per block it counts the impostors below and at each genuine distance and
the impostor histogram, and the few impostor distances a metric reads by rank (TAR@FAR's first
rejected impostor, the EER crossing, the ROC curve's sampled thresholds) are found exactly by
:class:`~siamkit.evaluation.rank_select.RankSelector` in one or more further passes (more for
float64 or ties). Every metric equals the in-memory one's (same definitions, same float
operations), bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from siamkit.evaluation._common import (
    ArrayLike,
    DistanceLike,
    as_embeddings,
    as_labels,
    as_scores,
    memoized,
    resolve_distance,
)
from siamkit.evaluation.pairs import pair_blocks
from siamkit.evaluation.rank_select import RankSelector
from siamkit.evaluation.roc import (
    OperatingPoint,
    RocCurve,
    false_accepts_allowed,
    rejecting_with_room,
    step_below,
    window_centres,
    window_numerator,
    worst_case_bounds,
    worst_case_fit,
    worst_case_threshold,
    zero_bound,
)


class StreamedPairs:
    """Counts of the genuine and impostor distances of all pairs ``i < j``, in bounded memory.

    Args:
        z: ``(N, D)`` embeddings; labels: ``(N,)`` classes; distance: name or ``Distance``.
        bins: bins of the distance histogram (:meth:`histogram`).

    Example:
        >>> import torch
        >>> z = torch.tensor([[0.0], [0.1], [1.0], [1.2]])
        >>> StreamedPairs(z, [0, 0, 1, 1]).roc_auc()
        1.0
    """

    def __init__(
        self, z: ArrayLike, labels: ArrayLike, distance: DistanceLike = "euclidean", bins: int = 100
    ) -> None:
        self._z = as_embeddings(z)
        self._y = as_labels(labels, self._z.shape[0]).to(self._z.device)
        self._dist = resolve_distance(distance)
        genuine, n_i, lo, hi = [], 0, None, None
        for g, m in self._blocks(desc="verification pairs"):
            genuine.append(g)
            if m.size:
                as_scores(m, "impostor")  # the finite check, with its sentence
                n_i += m.size
                lo = m.min() if lo is None else min(lo, m.min())
                hi = m.max() if hi is None else max(hi, m.max())
        g = as_scores(np.concatenate(genuine), "genuine")
        if g.size == 0 or lo is None or hi is None:
            raise ValueError(
                f"verification needs both genuine and impostor pairs, got {g.size} genuine and "
                f"{n_i} impostor; use at least two classes and a class with two items"
            )
        self.genuine = np.sort(g)  # (G,)
        self.n_genuine, self.n_impostor = int(g.size), n_i
        self.impostor_min, self.impostor_max = lo, hi
        self._values, counts = np.unique(self.genuine, return_counts=True)  # (U,)
        self._g_le = np.cumsum(counts)  # genuine <= each value
        self._g_lt = self._g_le - counts
        self._counts = counts
        self._count_impostors(bins)
        self._known: dict[int, tuple[float, int, int]] = {}

    def _blocks(
        self, desc: str | None = None, genuine: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # keep=False: inside shared_distance_matrices (evaluate_embeddings) a costly distance's
        # blocks would otherwise all be kept, up to its 1 GiB (N = 20,000: ~800 MB held)
        with memoized(self._dist, self._z):
            yield from pair_blocks(self._z, self._y, self._dist, desc, genuine=genuine, keep=False)

    def _impostors(self) -> Iterator[np.ndarray]:
        for _, m in self._blocks(genuine=False):
            if m.size:
                yield m

    def _count_impostors(self, bins: int) -> None:
        """One pass: impostors ``<`` and ``<=`` each genuine value, the histogram, rank counts."""
        v = self._values
        lt = np.zeros(v.size, dtype=np.int64)
        le = np.zeros(v.size, dtype=np.int64)
        le_slack = np.zeros(v.size, dtype=np.int64)
        bounds = worst_case_bounds(v)  # the accuracy fit's, as roc.best_accuracy_as_decided
        at_zero = 0  # impostors <= zero_bound(): where a distance's fit takes no threshold below 0
        centres = {sg: window_centres(v, sg) for sg in (False, True)}  # signed or not
        at_centre = np.zeros(v.size, dtype=np.int64)  # impostors <= each signed centre's edge
        apart = np.flatnonzero(centres[False][2] != centres[True][2])  # near 0 only
        at_centre_apart = np.zeros(apart.size, dtype=np.int64)  # and the distances' there
        lo = float(min(self.genuine[0], self.impostor_min))
        hi = float(max(self.genuine[-1], self.impostor_max))
        span = (lo, hi if hi > lo else lo + 1.0)
        self._g_hist, self._edges = np.histogram(self.genuine, bins=bins, range=span)
        self._i_hist = np.zeros(bins, dtype=np.int64)
        self._selector = RankSelector(self.genuine.dtype, self.impostor_min, self.impostor_max)
        for m in self._impostors():
            ms = np.sort(m)
            left = np.searchsorted(ms, v, side="left")
            hit = ms[np.minimum(left, ms.size - 1)] == v  # only a value hit has ties to count
            right = left.copy()
            right[hit] = np.searchsorted(ms, v[hit], side="right")
            lt += left
            le += right
            ms64 = ms.astype(np.float64)  # the bounds are float64, as in memory
            le_slack += np.searchsorted(ms64, bounds, side="right")
            at_zero += int(np.searchsorted(ms64, zero_bound(), side="right"))
            at_centre += np.searchsorted(ms64, centres[True][2], side="right")
            if apart.size:
                at_centre_apart += np.searchsorted(ms64, centres[False][2][apart], side="right")
            del ms64
            del ms
            self._i_hist += np.histogram(m, bins=bins, range=span)[0]  # in blocks of 65,536
            self._selector.add(m)
        self._i_lt, self._i_le, self._i_le_slack, self._i_at_zero = lt, le, le_slack, at_zero
        g64 = self.genuine.astype(np.float64)
        self._centres = {sg: c[0] for sg, c in centres.items()}
        self._g_at_centre = {
            sg: np.searchsorted(g64, c[1], side="right") for sg, c in centres.items()
        }
        self._i_at_centre = {True: at_centre, False: at_centre.copy()}
        self._i_at_centre[False][apart] = at_centre_apart

    # -- impostors by rank -------------------------------------------------------------

    def prefetch(self, ranks: Iterable[int]) -> None:
        """Find the impostor distances at these 0-based ranks in one selection (more passes)."""
        want = sorted({int(r) for r in ranks} - self._known.keys())
        if want:
            got = self._selector.select(want, self._impostors)
            for r, v, b, u in zip(want, got.values, got.below, got.upto, strict=True):
                self._known[r] = (v, int(b), int(u))

    def _rank(self, r: int) -> tuple[float, int, int]:
        """``(value, below, upto)`` of the impostor of rank ``r``."""
        if r not in self._known:
            self.prefetch([r])
        return self._known[r]

    def _below(self, value: float, impostors_below: int) -> float | None:
        """The largest observed distance ``< value``, given how many impostors are below it."""
        i = int(np.searchsorted(self.genuine, value, side="left"))
        cands = [float(self.genuine[i - 1])] if i > 0 else []
        if impostors_below > 0:  # the largest of them is the impostor of rank impostors_below - 1
            cands.append(float(self._rank(impostors_below - 1)[0]))
        return max(cands) if cands else None

    # -- the metrics of roc.py ---------------------------------------------------------

    def roc_auc(self) -> float:
        """:func:`~siamkit.evaluation.roc_auc` of the pairs."""
        n_g, n_i = self.n_genuine, self.n_impostor
        greater = int((self._counts * (n_i - self._i_le)).sum(dtype=np.int64))
        ties = int((self._counts * (self._i_le - self._i_lt)).sum(dtype=np.int64))
        return (2 * greater + ties) / (2 * n_g * n_i)

    def _far_rank(self, far: float) -> int:
        if not 0.0 <= far <= 1.0:
            raise ValueError(f"far must be a rate in [0, 1], got {far}")
        return false_accepts_allowed(far, self.n_impostor)

    def far_operating_point(self, far: float) -> OperatingPoint:
        """:func:`~siamkit.evaluation.far_operating_point` of the pairs."""
        k = self._far_rank(far)
        if k >= self.n_impostor:
            return OperatingPoint(1.0, float(max(self.genuine[-1], self.impostor_max)))
        value, below, _ = self._rank(k)
        tar = np.searchsorted(self.genuine, value, side="left") / self.n_genuine
        t = self._below(float(value), below)
        return OperatingPoint(
            float(tar), step_below(float(value), self.genuine.dtype) if t is None else t
        )

    def _eer_rank(self) -> tuple[int, int, int]:
        """Where FAR - FRR first turns >= 0: ``(j, ta, c)``, ``ta`` genuine below value ``j``;
        ``c > 0`` when that is the impostor of rank ``c - 1`` (in the gap below genuine value
        ``j``), else value ``j``."""
        n_g, n_i = self.n_genuine, self.n_impostor
        ok = self._i_le / n_i - (1.0 - self._g_le / n_g) >= 0  # at every genuine value
        j = int(np.argmax(ok))  # the last value is always ok: TAR = 1 there
        ta = int(self._g_lt[j])
        lo, hi = (int(self._i_le[j - 1]) if j else 0), int(self._i_lt[j])

        def good(c: int) -> bool:
            return bool(np.float64(c) / n_i - (1.0 - np.float64(ta) / n_g) >= 0)

        if lo >= hi or not good(hi):
            return j, ta, 0
        a, b = lo + 1, hi  # the smallest count c in (lo, hi] with good(c)
        while a < b:
            mid = (a + b) // 2
            a, b = (a, mid) if good(mid) else (mid + 1, b)
        return j, ta, a

    def eer(self) -> OperatingPoint:
        """:func:`~siamkit.evaluation.eer` of the pairs."""
        n_g, n_i = self.n_genuine, self.n_impostor
        j, ta, c = self._eer_rank()
        if c:
            value, m, fa_k = self._rank(c - 1)
            t_k, ta_k = float(value), ta
        else:
            t_k, ta_k = float(self._values[j]), int(self._g_le[j])
            m, fa_k = int(self._i_lt[j]), int(self._i_le[j])
        far_k, frr_k = float(fa_k / n_i), 1.0 - float(ta_k / n_g)
        t_below = self._below(t_k, m)
        if t_below is None:  # previous point is "accept nothing": FAR 0, FRR 1
            t_p, far_p, frr_p = t_k, 0.0, 1.0
        else:
            ta_p = int(np.searchsorted(self.genuine, t_k, side="left"))
            t_p, far_p, frr_p = t_below, float(m / n_i), 1.0 - float(ta_p / n_g)
        gap_p, gap_k = frr_p - far_p, frr_k - far_k  # > 0 and <= 0
        alpha = gap_p / (gap_p - gap_k) if gap_p > gap_k else 1.0
        return OperatingPoint(far_p + alpha * (far_k - far_p), t_p + alpha * (t_k - t_p))

    def best_accuracy(self) -> OperatingPoint:
        """:func:`~siamkit.evaluation.best_accuracy` (balanced) of the pairs."""
        ta, fa = self._g_le, self._i_le
        n_g, n_i = self.n_genuine, self.n_impostor
        num, num_none, den = ta * n_i + (n_i - fa) * n_g, n_i * n_g, 2 * n_g * n_i
        best = int(np.argmax(num))
        if num[best] < num_none:  # rejecting everything is best
            lowest = float(min(self.genuine[0], self.impostor_min))
            return OperatingPoint(num_none / den, step_below(lowest, self.genuine.dtype))
        return OperatingPoint(float(num[best] / den), float(self._values[best]))

    def _accuracy_counts(self, signed: bool) -> np.ndarray:
        """Impostors ``<=`` each genuine value's :func:`~siamkit.evaluation.roc.worst_case_bounds`."""
        le = self._i_le_slack
        return le if signed else np.maximum(le, self._i_at_zero)

    def _accuracy_fit(self, signed: bool) -> tuple[int, int, int]:
        counts = self._accuracy_counts(signed)
        return worst_case_fit(self._values, self._g_le, counts, self.n_genuine, self.n_impostor)

    def _rejected_rank(self, signed: bool) -> int | None:
        """The rank of the impostor the accuracy fit's threshold is placed under, or ``None``
        where none is (accepting nothing, impostors inside the window, none above it)."""
        k = self._accuracy_fit(signed)[0]
        if k < 0:
            return None
        c = int(self._accuracy_counts(signed)[k])
        return c if int(self._i_le[k]) == c < self.n_impostor else None

    def best_accuracy_as_decided(self, signed: bool = False) -> OperatingPoint:
        """:func:`~siamkit.evaluation.roc.best_accuracy_as_decided` (balanced) of the pairs:
        the same counts, and the impostor above the chosen bound found by rank."""
        k, num, den = self._accuracy_fit(signed)
        if k < 0:
            lowest = float(min(self.genuine[0], self.impostor_min))
            return OperatingPoint(
                num / den, float(rejecting_with_room(np.array([lowest]), signed)[0])
            )
        c = int(self._accuracy_counts(signed)[k])
        if c > int(self._i_le[k]):  # impostors in the window: counted at its centre
            ta, fa = int(self._g_at_centre[signed][k]), int(self._i_at_centre[signed][k])
            num = window_numerator(ta, fa, self.n_genuine, self.n_impostor)
            return OperatingPoint(num / den, float(self._centres[signed][k]))
        rejected = float(self._rank(c)[0]) if c < self.n_impostor else np.inf
        value = float(self._values[k])
        return OperatingPoint(num / den, worst_case_threshold(value, rejected, signed))

    def _union_ranks(self, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For ranks of all distances sorted: ``(genuine value index or -1, impostor rank or -1)``."""
        j = np.searchsorted(self._g_le + self._i_le, ranks, side="right")  # first value past r
        inside = j < self._values.size
        jc = np.minimum(j, self._values.size - 1)
        at_value = inside & (self._g_lt[jc] + self._i_lt[jc] <= ranks)
        imp = np.where(inside, ranks - self._g_lt[jc], ranks - self.n_genuine)
        return np.where(at_value, jc, -1), np.where(at_value, -1, imp)

    def curve_ranks(self, points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sampled thresholds of :func:`~siamkit.evaluation.roc_curve` with ``max_points``:
        union ranks (as genuine value index / impostor rank), impostor ranks, genuine picks."""
        quarter = max(2, max(8, int(points)) // 4)
        n_u = self.n_genuine + self.n_impostor
        at_value, union_imp = self._union_ranks(
            np.linspace(0, n_u - 1, 2 * quarter).round().astype(np.int64)
        )
        imp = np.unique(np.geomspace(1, self.n_impostor, quarter).round().astype(np.int64)) - 1
        g = np.unique(np.geomspace(1, self.n_genuine, quarter).round().astype(np.int64)) - 1
        genuine = np.concatenate(
            [self._values[at_value[at_value >= 0]], self.genuine[self.n_genuine - 1 - g]]
        )
        return union_imp[union_imp >= 0], imp, genuine

    def roc_curve(self, points: int) -> RocCurve:
        """:func:`~siamkit.evaluation.roc_curve` with ``max_points=points`` of the pairs."""
        union_imp, imp, genuine = self.curve_ranks(points)
        ranks = np.concatenate([union_imp, imp])
        self.prefetch(ranks)
        known = [self._known[int(r)] for r in ranks]
        iv = np.array([k[0] for k in known], dtype=self.genuine.dtype)
        thr = np.unique(np.concatenate([iv, genuine]))
        fa = np.zeros(thr.size, dtype=np.int64)
        idx = np.minimum(np.searchsorted(self._values, thr), self._values.size - 1)
        is_g = self._values[idx] == thr
        fa[is_g] = self._i_le[idx[is_g]]
        order = np.argsort(iv, kind="stable")
        upto = np.array([k[2] for k in known], dtype=np.int64)[order]
        fa[~is_g] = upto[np.searchsorted(iv[order], thr[~is_g])]
        thr64 = np.concatenate([[-np.inf], thr.astype(np.float64)])
        ta = np.searchsorted(self.genuine, thr64, side="right")
        fa = np.concatenate([[0], fa])
        return RocCurve(far=fa / self.n_impostor, tar=ta / self.n_genuine, thresholds=thr64)

    def histogram(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(edges, genuine counts, impostor counts)`` of :func:`distance_histogram`."""
        return self._edges, self._g_hist, self._i_hist

    def plan(self, fars: Iterable[float], points: int) -> None:
        """Find every impostor rank the report reads in one selection, then the few more that
        ties at those ranks ask for (the largest impostor below a tied value)."""
        tied: list[int] = []  # ranks whose largest impostor below is read too
        for f in fars:
            k = self._far_rank(float(f))
            tied += [k] if k < self.n_impostor else []
        j, _, c = self._eer_rank()
        tied += [c - 1] if c else []
        union_imp, imp, _ = self.curve_ranks(points)
        fit = []  # the accuracy fit's rejected impostor, signed and not
        for signed in (False, True):
            rejected = self._rejected_rank(signed)
            fit += [] if rejected is None else [rejected]
        first = [*tied, *(r - 1 for r in tied), int(self._i_lt[j]) - 1, *union_imp, *imp, *fit]
        self.prefetch(r for r in first if r >= 0)
        self.prefetch(self._known[r][1] - 1 for r in tied if self._known[r][1] > 0)
