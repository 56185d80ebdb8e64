"""Genuine and impostor distances of all (or a seeded sample of) unordered pairs ``i < j``."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import torch

from siamkit.distances import Distance, FixedDistance
from siamkit.evaluation._common import (
    ArrayLike,
    DistanceLike,
    as_embeddings,
    as_labels,
    distance_rows,
    keep_pairs,
    kept_pairs,
    memoized,
    resolve_distance,
)
from siamkit.progress import track

#: Elements of ``z`` one block of listed or sampled pairs gathers per side (2 MB of float32):
#: small enough that the two gathered sides and their difference stay in the CPU cache. With
#: blocks of ``BLOCK_ELEMENTS`` a wide embedding ran slower (300,000 pairs of 4,544-wide
#: embeddings: 3.5-7.7 CPU-s against ~2.5, page faults and cache misses; BENCHMARKS.md,
#: benchmarks/bench_eval_wide.py); each pair's distance is the same either way.
PAIR_BLOCK_ELEMENTS = 1 << 19

#: torch's intra-op grain (``at::internal::GRAIN_SIZE``): a reduction over fewer values runs on
#: one thread whatever the count; a one-row block at least this wide has its row split over the
#: threads (two-pass sum), so one thread would round it differently
_ONE_ROW_SERIAL_BELOW = 32_768


class PairDistances(NamedTuple):
    """Distances of same-class pairs ``(G,)`` and of different-class pairs ``(I,)``."""

    genuine: np.ndarray
    impostor: np.ndarray


def n_pairs(n: int) -> int:
    """Number of unordered pairs of ``n`` items."""
    return n * (n - 1) // 2


def all_pair_distances(
    z: ArrayLike, labels: ArrayLike, distance: DistanceLike = "euclidean"
) -> PairDistances:
    """Distances of every unordered pair ``i < j``, split by whether the labels match.

    Works in row blocks of the upper triangle (about 16 MB at a time): 4,000 items give
    ~8M pairs in well under a second. Pairs come out in row-major ``(i, j)`` order. Inside
    :func:`~siamkit.evaluation.shared_distance_matrices` the distances of a set are kept, and a
    second call on the same embeddings, labels and distance returns copies of them (the TAR/FAR
    of a threshold after the verification), whatever the distance.

    Args:
        z: ``(N, D)`` embeddings (tensor or array).
        labels: ``(N,)`` class labels (any hashable values).
        distance: a distance name or ``Distance`` object.

    Example:
        >>> pd = all_pair_distances(torch.tensor([[0.0], [1.0], [3.0]]), [0, 0, 1])
        >>> pd.genuine.tolist(), pd.impostor.tolist()
        ([1.0], [3.0, 2.0])
    """
    zt = as_embeddings(z)
    y = as_labels(labels, zt.shape[0]).to(zt.device)
    dist = resolve_distance(distance)
    genuine, impostor = [], []
    with memoized(dist, zt):
        kept = kept_pairs(zt, y, dist)
        if kept is not None:
            return PairDistances(*kept)
        for g, m in pair_blocks(zt, y, dist):
            genuine.append(g)
            impostor.append(m)
        pd = PairDistances(np.concatenate(genuine), np.concatenate(impostor))
        keep_pairs(zt, y, dist, pd.genuine, pd.impostor)
    return pd


@torch.no_grad()
def pair_blocks(
    zt: torch.Tensor,
    y: torch.Tensor,
    dist: Distance,
    desc: str | None = "verification pairs",
    genuine: bool = True,
    keep: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Genuine and impostor distances ``(G_b,), (I_b,)`` of the pairs ``i < j`` of each row
    block of :func:`~siamkit.evaluation._common.distance_rows`, row-major; ``y`` holds class
    codes on ``zt``'s device. The one place that splits a block, so every caller gets the
    same values. ``genuine=False`` leaves the genuine part empty (a pass over impostors);
    ``keep=False`` keeps no block in a :func:`~siamkit.evaluation.shared_distance_matrices`."""
    for s, block in distance_rows(zt, dist, upper=True, desc=desc, keep=keep):
        rows = block.shape[0]
        upper = torch.ones(rows, block.shape[1], dtype=torch.bool).triu_(1)
        same = (y[s : s + rows, None] == y[None, s:]).cpu()
        g = block[upper & same] if genuine else block[:0, 0]
        yield g.numpy(), block[upper & ~same].numpy()


def pair_index(flat: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Map flat indices ``0..n(n-1)/2 - 1`` of the row-major upper triangle to ``(i, j)``, ``i < j``.

    Example:
        >>> pair_index(np.arange(3), 3)
        (array([0, 0, 1]), array([1, 2, 2]))
    """
    rows = np.arange(n, dtype=np.int64)
    offsets = rows * n - rows * (rows + 1) // 2  # first flat index of each row
    i = np.searchsorted(offsets, flat, side="right") - 1
    j = flat - offsets[i] + i + 1
    return i, j


@torch.no_grad()
def sampled_pair_distances(
    z: ArrayLike,
    labels: ArrayLike,
    distance: DistanceLike = "euclidean",
    max_pairs: int = 1_000_000,
    seed: int = 0,
) -> PairDistances:
    """Distances of ``max_pairs`` unordered pairs drawn uniformly without replacement (seeded).

    Falls back to all pairs when there are no more than ``max_pairs``.
    """
    zt = as_embeddings(z)
    y = as_labels(labels, zt.shape[0]).numpy()
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be a positive number of pairs, got {max_pairs}")
    total = n_pairs(zt.shape[0])
    if max_pairs >= total:
        return all_pair_distances(zt, y, distance)
    dist = resolve_distance(distance)
    flat = np.sort(np.random.default_rng(seed).choice(total, size=max_pairs, replace=False))
    i, j = pair_index(flat, zt.shape[0])
    d = _pair_blocks(zt, i, j, dist)
    same = y[i] == y[j]
    return PairDistances(d[same], d[~same])


def pair_distances(
    z: ArrayLike,
    labels: ArrayLike,
    distance: DistanceLike = "euclidean",
    max_pairs: int | None = None,
    seed: int = 0,
) -> PairDistances:
    """All pairs, or a seeded uniform sample of ``max_pairs`` when that is given and smaller."""
    if max_pairs is None:
        return all_pair_distances(z, labels, distance)
    return sampled_pair_distances(z, labels, distance, max_pairs=max_pairs, seed=seed)


@torch.no_grad()
def listed_pair_distances(
    z: ArrayLike,
    index_a: ArrayLike,
    index_b: ArrayLike,
    same: ArrayLike,
    distance: DistanceLike = "euclidean",
) -> PairDistances:
    """Distances of the listed pairs ``(z[index_a[k]], z[index_b[k]])``, split by ``same``.

    For a protocol that names its pairs (an LFW-style list, a pairs CSV) rather than taking
    every pair of a labelled set. Each item is embedded once; a pair is genuine where
    ``same[k]`` is true. Pairs keep their listed order within each part.

    Example:
        >>> z = torch.tensor([[0.0], [1.0], [3.0]])
        >>> pd = listed_pair_distances(z, [0, 0, 1], [1, 2, 2], [1, 0, 0])
        >>> pd.genuine.tolist(), pd.impostor.tolist()
        ([1.0], [3.0, 2.0])
    """
    zt = as_embeddings(z)
    ia = np.asarray(index_a, dtype=np.int64).reshape(-1)
    ib = np.asarray(index_b, dtype=np.int64).reshape(-1)
    keep = np.asarray(same).reshape(-1).astype(bool)
    if not ia.size == ib.size == keep.size:
        raise ValueError(
            f"index_a, index_b and same must have one entry per pair, got {ia.size}, {ib.size} "
            f"and {keep.size}"
        )
    if ia.size and (min(ia.min(), ib.min()) < 0 or max(ia.max(), ib.max()) >= zt.shape[0]):
        raise ValueError(f"pair indices must lie in [0, {zt.shape[0]})")
    d = _pair_blocks(zt, ia, ib, resolve_distance(distance))
    return PairDistances(d[keep], d[~keep])


def _tqdm_monitors() -> list[threading.Thread]:
    """The monitor threads tqdm holds: each tqdm class keeps its running one in its public
    ``monitor`` attribute, ``tqdm.tqdm``'s or a subclass's own (siamkit's bars, ``tqdm.auto``'s
    class, set theirs and leave ``tqdm.tqdm.monitor`` None); none while tqdm is not imported."""
    tq = sys.modules.get("tqdm")
    base = getattr(tq, "tqdm", None)
    if not isinstance(base, type):
        return []
    found: list[threading.Thread] = []
    todo, seen = [base], set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo.extend(cls.__subclasses__())
        if isinstance(monitor := vars(cls).get("monitor"), threading.Thread):
            found.append(monitor)
    return found


def _alone() -> bool:
    """Whether the calling thread is the process's only Python thread that may run torch work:
    a monitor thread that tqdm holds (:func:`_tqdm_monitors`; a daemon that only refreshes the
    bars) is left out, by identity. Counting it turned :func:`one_thread` off in every
    `siamkit train` on a terminal, whose bars are tqdm's (s57_FA Q6)."""
    me = threading.current_thread()
    others = [t for t in threading.enumerate() if t is not me]
    if not others:
        return True
    monitors = _tqdm_monitors()
    return all(any(t is m for m in monitors) for t in others)


@contextmanager
def one_thread(on: bool = True) -> Iterator[None]:
    """Torch's intra-op work on one thread inside the block (when ``on``), as before after it.

    Each block of :func:`_pair_blocks` is a handful of small ops (two gathers, the difference,
    its square, the row sums: ~2 MB each), and each op on several threads is one parallel region
    whose threads must all be scheduled before it ends. On a loaded machine that wait cost most of
    the time: 300,000 pairs of 3,600 x 4,544 random embeddings took 73 CPU-s and 238 s on 2
    threads (load 8 on 2 cores) against 6 CPU-s and 13 s on one (BENCHMARKS.md,
    benchmarks/bench_sampled_pairs.py). The values are the same for rows narrower than torch's
    grain of 32,768 values, where :func:`_pair_blocks` alone takes the block: an elementwise op
    does not depend on the threads, and a row's sum is taken by one thread either way (torch
    splits the rows, not a row; a one-row block below the grain is serial on any count). A block
    of one wider row (the last block when a pair is left over, every block past 262,144 wide)
    had its sum split over the threads, so one thread rounded it otherwise in the last bits
    (s57_FA Q5, s57_r9 finding 2): such widths keep the threads. The count is put back on exit.
    Proven equal to the former route at 2 threads (this machine) and, as the reasoning says, not
    tied to that count: at 4 and 8 threads too (widths 8 to 32,767, one-pair tail blocks, the four
    named distances: s58_m6). Few-shot episodes differ there: their matrix products are split
    by thread count (:func:`siamkit.evaluation.few_shot.episode_accuracies`).

    Only where the calling thread is the process's only Python thread that may run torch work
    (:func:`_alone`: tqdm's monitor, which a progress bar on a terminal starts, does not count;
    a benchmark's process, a CLI run without a tracker's threads); with others running (a
    service's pool, a user's threads) the block keeps the threads' count. ``set_num_threads``
    also sets the count a thread takes the first time it does parallel work, so a thread whose
    first torch op fell inside the block kept one intra-op thread for good (s57_FA Q2); a thread
    can only be started during the block by the calling thread, which runs the block."""
    threads = torch.get_num_threads()
    if not on or threads == 1 or not _alone():
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def _pair_blocks(zt: torch.Tensor, ia: np.ndarray, ib: np.ndarray, dist: Distance) -> np.ndarray:
    """``dist.pairwise(zt[ia], zt[ib])`` as a numpy array, in blocks of about
    ``PAIR_BLOCK_ELEMENTS`` gathered values per side; on the CPU with a named distance and
    embeddings narrower than 32,768, on one intra-op thread (:func:`one_thread`; a learned one
    keeps its threads: a matrix product's rounding may depend on them; so does a wider one: its
    one-pair blocks had their row sums split over the threads)."""
    step = max(1, PAIR_BLOCK_ELEMENTS // zt.shape[1])
    parts = [np.zeros(0, dtype=np.float32)]
    # one thread keeps the values only while a one-row block's sum is serial anyway (s57_r9 #2)
    serial = (
        zt.device.type == "cpu"
        and isinstance(dist, FixedDistance)
        and zt.shape[1] < _ONE_ROW_SERIAL_BELOW
    )
    with memoized(dist, zt), one_thread(serial):
        for s in track(range(0, ia.size, step), "verification pairs", unit="blocks"):
            a = zt[torch.from_numpy(ia[s : s + step]).to(zt.device)]
            b = zt[torch.from_numpy(ib[s : s + step]).to(zt.device)]
            parts.append(dist.pairwise(a, b).cpu().numpy())
    return np.concatenate(parts)
