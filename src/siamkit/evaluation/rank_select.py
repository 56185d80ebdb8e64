"""Exact order statistics of a stream of numbers too large to hold, in a few passes.

A radix select on the numbers' bit patterns: each float maps to an unsigned integer *key* that
sorts as the float does; one pass counts the keys in ``FIRST_BINS`` equal key ranges, and each
further pass over the same stream splits the ranges holding a wanted rank, until a range is one
key, so one value. Memory stays at the counters (a few MB), whatever the stream's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np

#: Key ranges the first pass counts (8 MB of counters).
FIRST_BINS = 1 << 20
#: Most counters a refining pass keeps (8 MB).
REFINE_CELLS = 1 << 20
#: Values keyed at once: a chunk is taken in slices of this many, so the keys and bin indices
#: (~25 bytes a value) stay a few tens of MB whatever the chunk.
SLICE = 1 << 20

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def sort_keys(x: np.ndarray) -> np.ndarray:
    """Unsigned keys ordered as the floats ``x`` are (``-0.0`` taken as ``0.0``); ``(N,)``.

    >>> sort_keys(np.array([-1.0, 0.0, 2.0], dtype=np.float32)).tolist()
    [1082130431, 2147483648, 3221225472]
    """
    u = (np.asarray(x) + 0.0).view(_UINT[x.dtype.itemsize])  # + 0.0 turns -0.0 into 0.0
    sign = u.dtype.type(1) << u.dtype.type(8 * u.dtype.itemsize - 1)
    return np.where(u & sign, ~u, u | sign)


def from_keys(k: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The floats of ``dtype`` whose :func:`sort_keys` are ``k``."""
    u = np.asarray(k, dtype=_UINT[dtype.itemsize])
    sign = u.dtype.type(1) << u.dtype.type(8 * u.dtype.itemsize - 1)
    return np.where(u & sign, u ^ sign, ~u).view(dtype)


class Ranked(NamedTuple):
    """Per asked rank ``r`` (0-based, ascending order): the value ``x[r]`` of the sorted stream,
    how many values are ``< x[r]`` (``below``) and how many ``<= x[r]`` (``upto``); each ``(R,)``."""

    values: np.ndarray
    below: np.ndarray
    upto: np.ndarray


class RankSelector:
    """Counts a stream's keys chunk by chunk (:meth:`add`), then finds the values at any ranks
    with one or more further passes over the same chunks (:meth:`select`).

    Args:
        dtype: the floats' dtype (``float16``, ``float32`` or ``float64``).
        lo, hi: the smallest and largest value of the stream.

    Example:
        >>> x = np.array([3.0, 1.0, 2.0, 2.0], dtype=np.float32)
        >>> sel = RankSelector(x.dtype, 1.0, 3.0)
        >>> sel.add(x)
        >>> sel.select([0, 2, 3], lambda: [x[:2], x[2:]]).values.tolist()
        [1.0, 2.0, 3.0]
    """

    def __init__(self, dtype: np.dtype, lo: float, hi: float) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype.itemsize not in _UINT or self.dtype.kind != "f":
            raise TypeError(f"ranks are selected among float16/32/64 values, got {self.dtype}")
        ends = sort_keys(np.array([lo, hi], dtype=self.dtype))
        self.kmin = ends[0]
        span = int(ends[1]) - int(ends[0])
        self.shift = max(0, span.bit_length() - FIRST_BINS.bit_length() + 1)
        self.counts = np.zeros((span >> self.shift) + 1, dtype=np.int64)

    def _offsets(self, x: np.ndarray) -> np.ndarray:
        """Keys of ``x`` less the smallest key (so ``>= 0``)."""
        return sort_keys(np.asarray(x, dtype=self.dtype)) - self.kmin

    def add(self, x: np.ndarray) -> None:
        """Count one chunk ``(M,)`` of the stream."""
        for s in range(0, x.size, SLICE):
            b = (self._offsets(x[s : s + SLICE]) >> self.shift).astype(np.intp)
            self.counts += np.bincount(b, minlength=self.counts.size)

    def select(self, ranks: Iterable[int], chunks: Callable[[], Iterable[np.ndarray]]) -> Ranked:
        """The values at 0-based ``ranks``; ``chunks()`` yields the counted stream again."""
        r = np.asarray(list(ranks), dtype=np.int64).reshape(-1)
        if r.size == 0:
            return Ranked(np.zeros(0, self.dtype), np.zeros(0, np.int64), np.zeros(0, np.int64))
        total = int(self.counts.sum())
        if r.min() < 0 or r.max() >= total:
            raise ValueError(f"ranks must lie in [0, {total}), got {r.min()} to {r.max()}")
        cum = np.cumsum(self.counts)
        bins = np.searchsorted(cum, r, side="right").astype(np.int64)
        size = self.counts[bins]
        before = cum[bins] - size
        shift = self.shift
        while shift > 0:
            needed = np.unique(bins)
            sub = max(1, min(shift, (REFINE_CELLS // needed.size).bit_length() - 1))
            counts = self._refine(needed, shift, sub, chunks)  # (len(needed), 2**sub)
            shift -= sub
            row = np.searchsorted(needed, bins)
            flat = counts.reshape(-1)
            cum = np.cumsum(flat)  # over the ranges in turn: a rank's part is where it passes
            start = row << sub  # the first part of each rank's range
            at = np.searchsorted(cum, cum[start] - flat[start] + (r - before), side="right")
            size = flat[at]
            before = before + cum[at] - size - (cum[start] - flat[start])
            bins = (bins << sub) | (at - start)
        keys = bins.astype(self.kmin.dtype) + self.kmin
        return Ranked(from_keys(keys, self.dtype), before, before + size)

    def _refine(
        self,
        needed: np.ndarray,
        shift: int,
        sub: int,
        chunks: Callable[[], Iterable[np.ndarray]],
    ) -> np.ndarray:
        """Counts of the ``2**sub`` equal parts of each range in ``needed`` (ranges of
        ``2**shift`` keys), over one pass of the stream."""
        out = np.zeros(needed.size << sub, dtype=np.int64)
        top = int(needed[-1]) + 1
        if top <= FIRST_BINS:  # a table of each range's row in out (-1: not needed, past top)
            slot = np.full(top + 1, -1, dtype=np.int64)
            slot[needed] = np.arange(needed.size)

        def rows(b: np.ndarray) -> np.ndarray:
            if top <= FIRST_BINS:
                return slot[np.minimum(b, top).astype(np.intp)]
            pos = np.minimum(np.searchsorted(needed, b.astype(np.int64)), needed.size - 1)
            return np.where(needed[pos] == b, pos, -1)

        for chunk in chunks():
            for s in range(0, chunk.size, SLICE):
                k = self._offsets(chunk[s : s + SLICE])
                pos = rows(k >> shift)
                hit = pos >= 0
                part = ((k[hit] >> (shift - sub)) & ((1 << sub) - 1)).astype(np.int64)
                out += np.bincount((pos[hit] << sub) | part, minlength=out.size)
        return out.reshape(needed.size, 1 << sub)
