"""The engine behind window strategies: every triplet set as windows over sorted positives.

For one anchor ``a``, sort its distances to positives ascending: ``x_0 <= x_1 <= ...``. For a
negative ``n`` with ``s = d(a, n)`` the triplet margin ``m = s - x_j`` only shrinks as ``j`` grows,
so each strategy selects a contiguous window of positive ranks ``[lo, hi)`` per (anchor, negative):

    hard      m < 0             ranks with x_j > s
    semihard  0 < m < margin    ranks with x_j < s and (s - x_j) < margin
    easy      m > margin        ranks with (s - x_j) > margin
    all       every positive

A P×K batch has only ``K - 1`` positives per anchor, so sorting them is cheap and each of the
``B^2`` (anchor, negative) entries needs one short binary search: ``O(B^2 log K)`` time and
``O(B^2)`` memory, never ``B^3``. Window ends come from ``torch.searchsorted`` and are then
corrected so they agree *exactly* with the float comparison ``(s - x_j) < margin`` that a naive
loop makes (``s - margin`` can round differently from ``s - x_j``); for the narrow rows of P×K
batches the counts come straight from those comparisons instead.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


class SortedPositives(NamedTuple):
    """Each anchor's positives in ascending distance; rows padded with ``+inf``."""

    values: Tensor  # (A, K) float: sorted anchor-positive distances, +inf after the last one
    order: Tensor  # (A, K) long: column of each sorted entry (0 in the padding)
    n_pos: Tensor  # (A,) long: positives per anchor


class Windows(NamedTuple):
    """Per (anchor, negative) entry a window ``[lo, hi)`` of positive ranks; ``(A, R)`` int32 each.

    Entries that are not negatives have ``lo == hi``.
    """

    lo: Tensor
    hi: Tensor


def sort_positives(dist: Tensor, pos: Tensor) -> SortedPositives:
    """Gather and sort each row's positive distances into an ``(A, K)`` grid, ``K`` = most positives."""
    count = pos.sum(1)
    width = int(count.max()) if count.numel() else 0
    rows, cols = pos.nonzero(as_tuple=True)
    slot = torch.arange(rows.shape[0], device=rows.device) - (torch.cumsum(count, 0) - count)[rows]
    grid = dist.new_full((dist.shape[0], width), float("inf"))
    grid[rows, slot] = dist[rows, cols]
    col_grid = torch.zeros(dist.shape[0], width, dtype=torch.long, device=dist.device)
    col_grid[rows, slot] = cols
    values, perm = torch.sort(grid, dim=1)
    return SortedPositives(values.contiguous(), col_grid.gather(1, perm), count)


class PositiveSearch:
    """Batched searches of every ``(A, R)`` query value in its row of sorted positives."""

    def __init__(self, sp: SortedPositives) -> None:
        self.values = sp.values
        self.width = sp.values.shape[1]
        self.flat = sp.values.reshape(-1)
        self.base = (
            torch.arange(sp.values.shape[0], device=sp.values.device) * self.width
        ).unsqueeze(1)

    def search(self, q: Tensor, right: bool) -> Tensor:
        """How many positives of each row are ``< q`` (``<= q`` when ``right``). ``(A, R)`` int32."""
        if self.width == 0:
            return torch.zeros(q.shape, dtype=torch.int32, device=q.device)
        return torch.searchsorted(self.values, q.contiguous(), right=right, out_int32=True)

    def count_prefix(self, s: Tensor, thr: float, strict: bool) -> Tensor:
        """How many positives ``x`` of each row have ``(s - x) > thr`` (``>=`` unless ``strict``).

        Exact in floating point: ``fl(s - x)`` never grows with ``x``, so the set is a prefix;
        the ``searchsorted`` guess on ``s - thr`` is moved over whole runs of equal values until
        it sits at the true boundary.
        """
        if self.width == 0:
            return torch.zeros(s.shape, dtype=torch.int32, device=s.device)
        t = torch.tensor(thr, dtype=s.dtype, device=s.device)

        def ok(k: Tensor) -> Tensor:
            diff = s - self.flat[self.base + k]
            return diff > t if strict else diff >= t

        k = self.search(s - t, right=not strict)
        while True:  # too far right: the entry before the boundary fails the test
            prev = (k - 1).clamp_min(0)
            bad = (k > 0) & ~ok(prev)
            if not bool(bad.any()):
                break
            k = torch.where(bad, self.search(self.flat[self.base + prev], right=False), k)
        while True:  # too far left: the entry at the boundary passes the test
            cur = k.clamp_max(self.width - 1)
            good = (k < self.width) & ok(cur)
            if not bool(good.any()):
                break
            k = torch.where(good, self.search(self.flat[self.base + cur], right=True), k)
        return k


#: Rows of sorted positives up to this wide are counted by direct comparison (``O(B^2 K)``,
#: exact by construction, fastest for P×K batches); wider rows use binary search
#: (``O(B^2 log K)``). Must stay below 256 (the counts are accumulated in uint8).
COMPARE_MAX_WIDTH = 32


def count_diffs(
    search: PositiveSearch,
    s: Tensor,
    specs: list[tuple[float, bool]],
    compare_max_width: int | None = None,
) -> list[Tensor]:
    """For each ``(thr, strict)``: how many positives ``x`` per entry have ``(s - x) > thr`` (``>=``).

    ``(A, R)`` queries ``s``; returns ``(A, R)`` int32 counts, one per spec.
    """
    width = search.width
    limit = COMPARE_MAX_WIDTH if compare_max_width is None else compare_max_width
    if width == 0 or width > limit:
        return [search.count_prefix(s, thr, strict) for thr, strict in specs]
    if s.device.type == "cpu" and s.dtype in (torch.float32, torch.float64):
        return _count_numpy(s.contiguous().numpy(), search.values.numpy(), specs)
    a, r = s.shape
    out = [torch.zeros(a, r, dtype=torch.uint8, device=s.device) for _ in specs]  # width <= 255
    ts = [torch.tensor(thr, dtype=s.dtype, device=s.device) for thr, _ in specs]
    rows = max(1, (1 << 18) // max(1, r))  # keep the working set cache-sized
    for i in range(0, a, rows):
        s_c, x_c = s[i : i + rows], search.values[i : i + rows]
        diff = torch.empty_like(s_c)
        hit = torch.empty(s_c.shape, dtype=torch.bool, device=s.device)
        for j in range(width):  # exact by construction: the same float comparison as a loop
            torch.sub(s_c, x_c[:, j : j + 1], out=diff)
            for o, t, (_, strict) in zip(out, ts, specs):
                (torch.gt if strict else torch.ge)(diff, t, out=hit)
                o[i : i + rows].add_(hit)
    return [o.to(torch.int32) for o in out]


def _count_numpy(s: np.ndarray, x: np.ndarray, specs: list[tuple[float, bool]]) -> list[Tensor]:
    """The CPU version of the comparison loop (NumPy's float comparisons are several times faster)."""
    a, r = s.shape
    out = [np.zeros((a, r), dtype=np.uint8) for _ in specs]
    ts = [s.dtype.type(thr) for thr, _ in specs]
    rows = max(1, (1 << 18) // max(1, r))
    for i in range(0, a, rows):
        s_c, x_c = s[i : i + rows], x[i : i + rows]
        diff, hit = np.empty_like(s_c), np.empty(s_c.shape, dtype=bool)
        for j in range(x.shape[1]):
            np.subtract(s_c, x_c[:, j : j + 1], out=diff)
            for o, t, (_, strict) in zip(out, ts, specs):
                (np.greater if strict else np.greater_equal)(diff, t, out=hit)
                np.add(o[i : i + rows], hit, out=o[i : i + rows], casting="unsafe")
    return [torch.from_numpy(o).to(torch.int32) for o in out]


def triplet_windows(
    dist: Tensor,
    pos: Tensor,
    neg: Tensor,
    strategy: str,
    margin: float,
    loss_margin: float | None = None,
    compare_max_width: int | None = None,
) -> tuple[SortedPositives, Windows, Tensor | None]:
    """Windows of ``strategy`` for every (anchor, negative) entry of a detached ``(A, R)`` matrix.

    Args:
        dist: ``(A, R)`` distances (no gradient needed).
        pos: ``(A, R)`` bool, valid positives (same label, not the anchor itself).
        neg: ``(A, R)`` bool, negatives.
        strategy: "hard", "semihard", "easy" or "all".
        margin: the margin of "semihard" and "easy".
        loss_margin: also return, per entry, the first positive rank where the hinge
            ``relu(x - s + loss_margin)`` is positive, i.e. ``(s - x) < loss_margin``.
        compare_max_width: override :data:`COMPARE_MAX_WIDTH` (tests use it to force a path).

    Returns:
        ``(sorted positives, windows, first active rank or None)``.
    """
    if strategy not in ("all", "hard", "semihard", "easy"):
        raise ValueError(f"{strategy!r} is not a window strategy; use hard, semihard, easy or all")
    sp = sort_positives(dist, pos)
    search = PositiveSearch(sp)
    n_pos = sp.n_pos.to(torch.int32).unsqueeze(1).expand_as(dist)
    zero = torch.zeros((), dtype=torch.int32, device=dist.device).expand_as(dist)
    specs = {
        "all": [],
        "hard": [(0.0, False)],  # x <= s  <=>  s - x >= 0
        "semihard": [(margin, False), (0.0, True)],  # s - x >= margin | x < s
        "easy": [(margin, True)],  # s - x > margin
    }[strategy]
    if loss_margin is not None:
        specs = [*specs, (loss_margin, False)]
    counts = count_diffs(search, dist, specs, compare_max_width)
    if strategy == "all":
        lo, hi = zero, n_pos
    elif strategy == "hard":
        lo, hi = counts[0], n_pos
    elif strategy == "semihard":
        lo, hi = counts[0], torch.maximum(counts[1], counts[0])
    else:
        lo, hi = zero, counts[0]
    hi = torch.where(neg, hi, lo)
    return sp, Windows(lo, hi), (counts[-1] if loss_margin is not None else None)


def hinge_active(w: Windows, first_active: Tensor) -> Windows:
    """The part of each window from the first rank where the hinge is positive."""
    return Windows(torch.minimum(torch.maximum(w.lo, first_active), w.hi), w.hi)


def positive_coverage(sp: SortedPositives, w: Windows) -> Tensor:
    """How many (anchor, negative) windows contain each positive, in column order. ``(A, R)`` int32."""
    a, r = w.lo.shape
    k = sp.values.shape[1]
    diff = torch.zeros(a * (k + 1), dtype=torch.int32, device=w.lo.device)
    base = (torch.arange(a, device=w.lo.device, dtype=torch.int32) * (k + 1)).unsqueeze(1)
    ones = torch.ones((), dtype=torch.int32, device=w.lo.device).expand(a * r)
    diff.index_add_(0, (base + w.lo).reshape(-1), ones)  # empty windows (lo == hi) cancel out
    diff.index_add_(0, (base + w.hi).reshape(-1), -ones)
    per_rank = torch.cumsum(diff.view(a, k + 1), dim=1, dtype=torch.int32)[:, :k]
    out = torch.zeros(a, r, dtype=torch.int32, device=w.lo.device)
    return out.scatter_add_(1, sp.order, per_rank)


def emit_triplets(sp: SortedPositives, w: Windows) -> tuple[Tensor, Tensor, Tensor]:
    """Every (anchor row, positive column, negative column) inside the windows, anchor-major."""
    lens = (w.hi - w.lo).reshape(-1)
    entries = lens.nonzero(as_tuple=True)[0]
    lens = lens[entries].long()
    total = int(lens.sum())
    r = w.lo.shape[1]
    a_entry, n_entry = entries // r, entries % r
    a = torch.repeat_interleave(a_entry, lens, output_size=total)
    n = torch.repeat_interleave(n_entry, lens, output_size=total)
    starts = torch.cumsum(lens, 0) - lens
    lo = w.lo.reshape(-1)[entries].long()
    rank = torch.arange(total, device=lens.device) - torch.repeat_interleave(
        starts - lo, lens, output_size=total
    )
    return a, sp.order[a, rank], n
