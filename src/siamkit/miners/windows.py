"""The engine behind window strategies: every triplet set as windows over sorted negatives.

For one anchor ``a``, sort its distances to negatives ascending: ``s_0 <= s_1 <= ...``. For a
positive ``p`` with ``x = d(a, p)`` the triplet margin is ``m = s_k - x``, which only grows with
``k``. So each strategy selects a contiguous window of ranks ``[lo, hi)`` per (anchor, positive):

    hard      m < 0             ranks with s_k < x
    semihard  0 < m < margin    ranks with s_k > x and (s_k - x) < margin
    easy      m > margin        ranks with (s_k - x) > margin
    all       every negative

Window ends come from ``torch.searchsorted`` and are then corrected so that they agree *exactly*
with the float comparison ``(s_k - x) < margin`` that a naive loop makes (``x + margin`` can
round differently from ``s_k - x``). Nothing here is larger than ``(A, R)``: ``O(B^2)`` memory and
``O(B^2 log B)`` time, never ``B^3``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class SortedNegatives(NamedTuple):
    """Each anchor's negatives in ascending distance; rows are padded with ``+inf``."""

    values: Tensor  # (A, R) float: sorted distances, +inf after the last negative
    order: Tensor  # (A, R) long: column of each sorted entry
    count: Tensor  # (A,) long: negatives per anchor


class Windows(NamedTuple):
    """One window ``[lo, hi)`` of sorted-negative ranks per (anchor, positive) pair; each ``(P,)``."""

    anchor: Tensor  # row of the anchor in the (A, R) matrix
    positive: Tensor  # column of the positive
    d_ap: Tensor  # anchor-positive distance
    lo: Tensor
    hi: Tensor


def sort_negatives(dist: Tensor, neg: Tensor) -> SortedNegatives:
    """Sort each row's negative distances; non-negatives go last as ``+inf``. ``(A, R)``."""
    masked = dist.masked_fill(~neg, float("inf"))
    values, order = torch.sort(masked, dim=1)
    return SortedNegatives(values, order, neg.sum(1))


class _RowSearch:
    """Vectorised per-row binary searches of ``P`` query values in the sorted rows of ``values``."""

    def __init__(self, values: Tensor, rows: Tensor, counts_per_row: Tensor) -> None:
        self.values = values
        self.rows = rows
        starts = torch.cumsum(counts_per_row, 0) - counts_per_row
        self.slot = torch.arange(rows.shape[0], device=rows.device) - starts[rows]
        self.width = int(counts_per_row.max()) if counts_per_row.numel() else 0
        self.flat = values.reshape(-1)
        self.base = rows * values.shape[1]

    def search(self, q: Tensor, right: bool) -> Tensor:
        """Per query: how many entries of its row are ``< q`` (``<= q`` when ``right``)."""
        grid = self.values.new_zeros(self.values.shape[0], self.width)
        grid[self.rows, self.slot] = q
        return torch.searchsorted(self.values, grid, right=right)[self.rows, self.slot]

    def count_diff_below(self, x: Tensor, thr: float, strict: bool) -> Tensor:
        """Per query: how many entries ``s`` of its row have ``(s - x) < thr`` (``<=`` unless strict).

        Exact in floating point: ``fl(s - x)`` is monotone in ``s``, so the set is a prefix; the
        ``searchsorted`` guess on ``x + thr`` is moved over whole runs of equal values until it
        sits at the true boundary.
        """
        n = self.values.shape[1]
        t = torch.tensor(thr, dtype=self.values.dtype, device=self.values.device)

        def ok(k: Tensor) -> Tensor:
            diff = self.flat[self.base + k] - x
            return diff < t if strict else diff <= t

        k = self.search(x + t, right=not strict)
        while True:  # too far right: the entry before the boundary fails the test
            prev = (k - 1).clamp_min(0)
            bad = (k > 0) & ~ok(prev)
            if not bool(bad.any()):
                break
            k = torch.where(bad, self.search(self.flat[self.base + prev], right=False), k)
        while True:  # too far left: the entry at the boundary passes the test
            cur = k.clamp_max(n - 1)
            good = (k < n) & ok(cur)
            if not bool(good.any()):
                break
            k = torch.where(good, self.search(self.flat[self.base + cur], right=True), k)
        return k


def triplet_windows(
    dist: Tensor, pos: Tensor, neg: Tensor, strategy: str, margin: float
) -> tuple[SortedNegatives, Windows, _RowSearch]:
    """Windows of ``strategy`` for every (anchor, positive) pair of a detached ``(A, R)`` matrix.

    Args:
        dist: ``(A, R)`` distances (no gradient needed).
        pos: ``(A, R)`` bool, valid positives (same label, not the anchor itself).
        neg: ``(A, R)`` bool, negatives.
        strategy: "hard", "semihard", "easy" or "all".
        margin: the margin of "semihard" and "easy".
    """
    sn = sort_negatives(dist, neg)
    rows, cols = pos.nonzero(as_tuple=True)
    search = _RowSearch(sn.values, rows, pos.sum(1))
    x = dist[rows, cols]
    nneg = sn.count[rows]
    zero = torch.zeros_like(rows)
    if strategy == "all":
        lo, hi = zero, nneg
    elif strategy == "hard":  # s < x
        lo, hi = zero, search.search(x, right=False)
    elif strategy == "semihard":  # s > x and s - x < margin
        lo = search.search(x, right=True)
        hi = torch.maximum(search.count_diff_below(x, margin, strict=True), lo)
    elif strategy == "easy":  # s - x > margin
        lo, hi = search.count_diff_below(x, margin, strict=False), nneg
    else:
        raise ValueError(f"{strategy!r} is not a window strategy; use hard, semihard, easy or all")
    return sn, Windows(rows, cols, x, lo, hi), search


def rank_coverage(anchor: Tensor, lo: Tensor, hi: Tensor, shape: tuple[int, int]) -> Tensor:
    """How many windows ``[lo, hi)`` of each row cover each sorted rank. ``(A, R)`` int32."""
    a, r = shape
    diff = torch.zeros(a * (r + 1), dtype=torch.int32, device=anchor.device)
    ones = torch.ones_like(anchor, dtype=torch.int32)
    diff.index_add_(0, anchor * (r + 1) + lo, ones)
    diff.index_add_(0, anchor * (r + 1) + hi, -ones)
    return torch.cumsum(diff.view(a, r + 1), dim=1, dtype=torch.int32)[:, :r]


def unsort(sn: SortedNegatives, per_rank: Tensor) -> Tensor:
    """Move values from sorted-rank order back to column order. ``(A, R) -> (A, R)``."""
    return torch.zeros_like(per_rank).scatter_(1, sn.order, per_rank)


def emit_triplets(sn: SortedNegatives, w: Windows) -> tuple[Tensor, Tensor, Tensor]:
    """Every (anchor row, positive column, negative column) inside the windows, anchor-major."""
    lens = w.hi - w.lo
    total = int(lens.sum())
    a = torch.repeat_interleave(w.anchor, lens, output_size=total)
    p = torch.repeat_interleave(w.positive, lens, output_size=total)
    starts = torch.cumsum(lens, 0) - lens
    rank = torch.arange(total, device=lens.device) - torch.repeat_interleave(
        starts - w.lo, lens, output_size=total
    )
    return a, p, sn.order[a, rank]
