"""The verification failures worth looking at: the closest impostor and farthest genuine pairs."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from siamkit.evaluation._common import (
    ArrayLike,
    DistanceLike,
    as_embeddings,
    as_labels,
    distance_rows,
    memoized,
    resolve_distance,
)


class Pair(NamedTuple):
    """Items ``i < j`` and their distance."""

    i: int
    j: int
    distance: float


class FailurePairs(NamedTuple):
    """``closest_impostors`` (smallest distances, different classes) and ``farthest_genuine``
    (largest distances, same class), each sorted worst first."""

    closest_impostors: list[Pair]
    farthest_genuine: list[Pair]


def _keep(best: tuple[np.ndarray, np.ndarray], d: np.ndarray, idx: np.ndarray, n: int, low: bool):
    """Merge candidates ``(d, idx)`` into ``best`` keeping the ``n`` smallest (or largest)."""
    d_all, i_all = np.concatenate([best[0], d]), np.concatenate([best[1], idx])
    order = np.argsort(d_all if low else -d_all, kind="stable")[:n]
    return d_all[order], i_all[order]


@torch.no_grad()
def failure_pairs(
    z: ArrayLike, labels: ArrayLike, distance: DistanceLike = "euclidean", n: int = 8
) -> FailurePairs:
    """The ``n`` closest impostor pairs and the ``n`` farthest genuine pairs over all pairs.

    Example:
        >>> z = torch.tensor([[0.0], [0.1], [0.5], [3.0]])
        >>> f = failure_pairs(z, [0, 1, 0, 0], n=1)
        >>> f.closest_impostors[0][:2], f.farthest_genuine[0][:2]
        ((0, 1), (0, 3))
    """
    zt = as_embeddings(z)
    y = as_labels(labels, zt.shape[0])
    dist = resolve_distance(distance)
    total = zt.shape[0]
    empty = (np.empty(0), np.empty(0, dtype=np.int64))
    imp, gen = empty, empty
    with memoized(dist, zt):
        for s, block in distance_rows(zt, dist, upper=True, desc="failure cases"):
            rows = block.shape[0]
            upper = torch.ones(rows, block.shape[1], dtype=torch.bool).triu_(1)
            same = y[s : s + rows, None] == y[None, s:]
            flat = torch.arange(rows)[:, None] * total + torch.arange(s, total)[None, :] + s * total
            for mask, low in ((upper & ~same, True), (upper & same, False)):
                d, idx = block[mask].numpy(), flat[mask].numpy()
                if d.size > n:
                    part = np.argpartition(d if low else -d, n)[:n]
                    d, idx = d[part], idx[part]
                if low:
                    imp = _keep(imp, d, idx, n, True)
                else:
                    gen = _keep(gen, d, idx, n, False)

    def pairs(best: tuple[np.ndarray, np.ndarray]) -> list[Pair]:
        return [Pair(int(f // total), int(f % total), float(d)) for d, f in zip(*best)]

    return FailurePairs(pairs(imp), pairs(gen))
