"""Offline mining: before an epoch, embed the training set and pre-select triplets or pairs.

Everything runs over chunks of ``chunk_size`` anchors against the whole set, so memory is
``O(chunk_size * N)`` (about ``16 * chunk_size * N`` bytes at the peak) and a 100,000-item set
never needs a 100,000 x 100,000 matrix.

>>> z = torch.nn.functional.normalize(torch.randn(1000, 16), dim=1)
>>> y = torch.arange(1000) % 10
>>> t = offline_mine_triplets(z, y, "semihard", per_anchor=2, chunk_size=128,
...                           generator=torch.Generator().manual_seed(0))
>>> int(t.anchor.shape[0]) <= 2000
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch import Tensor

from siamkit.distances import Distance, get_distance, training_matrix
from siamkit.encode import encode
from siamkit.miners._common import (
    WINDOW_STRATEGIES,
    at_least_float32,
    check_batch,
    check_strategy,
    empty_long,
    label_masks,
)
from siamkit.miners.functional import batch_hard_triplets, check_margin, random_triplets
from siamkit.miners.pair_miners import PAIR_STRATEGIES, select_pairs
from siamkit.miners.windows import SortedPositives, Windows, emit_triplets, triplet_windows
from siamkit.types import Pairs, Triplets

OFFLINE_TRIPLET_STRATEGIES = (*WINDOW_STRATEGIES, "batch_hard", "random")


def embed_dataset(
    embed_fn: Callable[[Tensor], Tensor], inputs: Tensor | Iterable[Tensor], batch_size: int = 256
) -> Tensor:
    """Embed ``inputs`` (an ``(N, ...)`` tensor, or an iterable of input batches) without gradients.

    Returns the ``(N, D)`` float32 embeddings on the CPU (:func:`siamkit.encode.encode`).
    """
    return encode(embed_fn, inputs, batch_size)


def _chunks(n: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    for start in range(0, n, chunk_size):
        yield start, min(start + chunk_size, n)


def _sample_from_windows(
    sp: SortedPositives, w: Windows, per_anchor: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor, Tensor]:
    """``per_anchor`` triplets per row, uniform over the union of that row's windows."""
    n_rows, width = w.lo.shape
    lens = (w.hi - w.lo).reshape(-1).long()  # triplets per (anchor, negative) entry
    per_row = lens.view(n_rows, width).sum(1)
    rows = per_row.nonzero(as_tuple=True)[0]
    if rows.numel() == 0:
        e = empty_long(lens.device)
        return e, e.clone(), e.clone()
    u = torch.rand(rows.shape[0], per_anchor, dtype=torch.float64, generator=generator)
    offset = (
        (u * per_row[rows].unsqueeze(1).double()).long().clamp_max(per_row[rows].unsqueeze(1) - 1)
    )
    row_start = torch.cumsum(per_row, 0) - per_row
    target = (row_start[rows].unsqueeze(1) + offset).reshape(
        -1
    )  # global position among all triplets
    cum = torch.cumsum(lens, 0)
    entry = torch.searchsorted(cum, target, right=True)  # the (anchor, negative) entry holding it
    a, n = entry // width, entry % width
    rank = w.lo.reshape(-1)[entry].long() + target - (cum[entry] - lens[entry])
    return a, sp.order[a, rank], n


def offline_mine_triplets(
    embeddings: Tensor,
    labels: Tensor,
    strategy: str = "semihard",
    margin: float = 0.2,
    distance: str | Distance = "euclidean",
    *,
    per_anchor: int | None = 1,
    chunk_size: int = 256,
    generator: torch.Generator | None = None,
) -> Triplets:
    """Pre-select triplets over a whole (embedded) training set, ``chunk_size`` anchors at a time.

    Args:
        embeddings: ``(N, D)`` embeddings of the training set (see :func:`embed_dataset`).
        labels: ``(N,)`` integer class ids.
        strategy: "hard", "semihard", "easy", "all" (the same sets as online mining),
            "batch_hard" (one per anchor) or "random".
        margin: margin of "semihard" / "easy".
        distance: a distance name or object.
        per_anchor: triplets per anchor, drawn uniformly from that anchor's set of the strategy
            (with replacement); ``None`` keeps the whole set of a window strategy (can be huge).
        chunk_size: anchors per chunk.
        generator: makes the draws reproducible.

    Returns:
        ``Triplets`` of indices into the training set.
    """
    labels = check_batch(embeddings, labels)
    check_strategy(strategy, OFFLINE_TRIPLET_STRATEGIES)
    margin = check_margin(margin)
    if per_anchor is not None and (isinstance(per_anchor, bool) or per_anchor < 1):
        raise ValueError(f"per_anchor must be a positive integer or None, got {per_anchor!r}")
    dist_fn = get_distance(distance)
    parts: list[tuple[Tensor, Tensor, Tensor]] = []
    with torch.no_grad():
        z = at_least_float32(embeddings.detach())
        for start, end in _chunks(z.shape[0], chunk_size):
            own = torch.arange(start, end, device=z.device)
            dist = training_matrix(dist_fn, z[start:end], z)  # (c, N)
            pos, neg = label_masks(labels[start:end], labels, anchor_index=own)
            if strategy == "batch_hard":
                a, p, n = batch_hard_triplets(dist, pos, neg)
            elif strategy == "random":
                a, p, n = random_triplets(pos, neg, per_anchor or 1, generator)
            else:
                sp, w, _ = triplet_windows(dist, pos, neg, strategy, margin)
                if per_anchor is None:
                    a, p, n = emit_triplets(sp, w)
                else:
                    a, p, n = _sample_from_windows(sp, w, per_anchor, generator)
            parts.append((a + start, p, n))
    return Triplets(*(torch.cat([part[i] for part in parts]) for i in range(3)))


def offline_mine_pairs(
    embeddings: Tensor,
    labels: Tensor,
    strategy: str = "hardest",
    margin: float = 0.2,
    distance: str | Distance = "euclidean",
    *,
    chunk_size: int = 256,
) -> Pairs:
    """Pre-select pairs over a whole training set with the online pair strategies, in chunks.

    Same sets as :func:`siamkit.miners.mine_pairs` on the whole set (``"all"`` lists every
    unordered pair ``i < j``).
    """
    labels = check_batch(embeddings, labels)
    check_strategy(strategy, PAIR_STRATEGIES)
    margin = check_margin(margin)
    dist_fn = get_distance(distance)
    firsts, seconds = [], []
    with torch.no_grad():
        z = at_least_float32(embeddings.detach())
        n_all = z.shape[0]
        for start, end in _chunks(n_all, chunk_size):
            own = torch.arange(start, end, device=z.device)
            if strategy == "all":
                sel = own.unsqueeze(1) < torch.arange(n_all, device=z.device).unsqueeze(0)
            else:
                dist = training_matrix(dist_fn, z[start:end], z)
                pos, neg = label_masks(labels[start:end], labels, anchor_index=own)
                sel = select_pairs(dist, pos, neg, strategy, margin)
            f, s = sel.nonzero(as_tuple=True)
            firsts.append(f + start)
            seconds.append(s)
    first, second = torch.cat(firsts), torch.cat(seconds)
    return Pairs(first, second, labels[first] == labels[second])


def mine_epoch(
    embed_fn: Callable[[Tensor], Tensor],
    inputs: Tensor | Iterable[Tensor],
    labels: Tensor,
    strategy: str = "semihard",
    margin: float = 0.2,
    distance: str | Distance = "euclidean",
    *,
    per_anchor: int | None = 1,
    batch_size: int = 256,
    chunk_size: int = 256,
    generator: torch.Generator | None = None,
) -> Triplets:
    """Embed the training set with the current model, then :func:`offline_mine_triplets`."""
    z = embed_dataset(embed_fn, inputs, batch_size)
    return offline_mine_triplets(
        z, labels.cpu(), strategy, margin, distance,
        per_anchor=per_anchor, chunk_size=chunk_size, generator=generator,
    )  # fmt: skip
