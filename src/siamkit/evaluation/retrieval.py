"""Leave-one-out retrieval metrics (P@1, Recall@K, MAP@R) and k-NN classification.

Every item queries all the others (itself excluded). A query whose class has no other item
cannot retrieve anything relevant and is left out, as pytorch-metric-learning does. MAP@R
follows Musgrave et al., "A Metric Learning Reality Check" (2020): with ``R`` the number of
other items of the query's class, ``MAP@R = 1/R * sum_{i<=R} P(i) * rel(i)``.
Work runs in blocks of queries, so memory stays bounded. A query's nearest item among items at
the same distance is the one with the smallest index (``argmin``'s rule), so P@1 is exact and
deterministic even with ties (duplicated or collapsed embeddings).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from siamkit.evaluation._common import (
    ArrayLike,
    DistanceLike,
    as_embeddings,
    as_labels,
    as_sequence,
    distance_rows,
    encode_labels,
    resolve_distance,
    row_chunk,
)


@dataclass(frozen=True)
class RetrievalReport:
    """Leave-one-out retrieval metrics averaged over ``n_queries`` queries.

    ``recall_at_k[k]`` is the share of queries with at least one same-class item in their
    ``k`` nearest neighbours (so ``recall_at_k[1] == precision_at_1``).
    """

    precision_at_1: float
    recall_at_k: Mapping[int, float]
    map_at_r: float
    n_queries: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision_at_1": self.precision_at_1,
            "map_at_r": self.map_at_r,
            "recall_at_k": {str(k): v for k, v in self.recall_at_k.items()},
            "n_queries": self.n_queries,
        }


def _check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    out = as_sequence(ks, "ks", "(1, 5)")
    if not all(isinstance(k, (int, np.integer)) and k >= 1 for k in out):
        raise ValueError(f"ks must be positive integers, got {out}")
    return tuple(int(k) for k in out)


def _leave_self_out(block: Tensor, start: int) -> Tensor:
    """A float ``(rows, N)`` distance block of queries ``start..`` with each query's own column at
    ``inf`` (in place where the block is already floating point)."""
    block = block if block.is_floating_point() else block.double()
    rows = block.shape[0]
    block[torch.arange(rows), torch.arange(start, start + rows)] = torch.inf
    return block


def _nearest_hits(block: Tensor, start: int, y: Tensor) -> Tensor:
    """``(rows,)`` bool: whether each query's nearest other item has its class.

    ``block`` is ``(rows, N)`` distances from queries ``start..start+rows`` to every item, self
    already at ``inf``; among equally near items the smallest index wins (``argmin``'s rule).
    """
    return y[block.argmin(dim=1)] == y[start : start + block.shape[0]]


def _average_precision_at_r(hits: Tensor, r: Tensor) -> Tensor:
    """``(Q, K)`` bool hits in rank order and ``(Q,)`` R per query -> ``(Q,)`` AP@R."""
    ranks = torch.arange(1, hits.shape[1] + 1)
    rel = hits & (ranks[None] <= r[:, None])  # only the first R ranks count
    precision = rel.cumsum(dim=1).double() / ranks  # P(i)
    return (precision * rel).sum(dim=1) / r


@torch.no_grad()
def retrieval_metrics(
    z: ArrayLike,
    labels: ArrayLike,
    distance: DistanceLike = "euclidean",
    ks: Iterable[int] = (1, 5, 10),
) -> RetrievalReport:
    """Leave-one-out P@1, Recall@K and MAP@R of every item against all others.

    Args:
        z: ``(N, D)`` embeddings.
        labels: ``(N,)`` class labels.
        distance: a distance name or ``Distance`` object.
        ks: the ``k`` values for Recall@K.

    Example:
        >>> z = torch.tensor([[0.0], [0.1], [0.5], [1.0], [1.1]])
        >>> r = retrieval_metrics(z, [0, 0, 1, 1, 1], ks=(1,))
        >>> r.precision_at_1, r.n_queries
        (0.8, 5)
    """
    zt = as_embeddings(z)
    ks = _check_ks(ks)
    n = zt.shape[0]
    y = as_labels(labels, n)
    _queries(y)
    r_all = torch.bincount(y)[y] - 1  # (N,) other items of the same class
    kmax = min(n - 1, max(int(r_all.max()), *ks))
    dist = resolve_distance(distance)
    p1: list[Tensor] = []
    ap: list[Tensor] = []
    recall: dict[int, list[Tensor]] = {k: [] for k in ks}
    for s, block in distance_rows(zt, dist, desc="retrieval"):  # block (rows, N)
        rows = block.shape[0]
        block = _leave_self_out(block, s)
        r = r_all[s : s + rows]
        keep = r > 0
        first = _nearest_hits(block, s, y)[keep]  # in the block's own precision
        nn = block.float().topk(kmax, dim=1, largest=False, sorted=True).indices  # (rows, kmax)
        hits = (y[nn] == y[s : s + rows, None])[keep]
        p1.append(first)
        for k in ks:  # k = 1 is P@1, so both break ties alike
            recall[k].append(first if k == 1 else hits[:, :k].any(dim=1))
        ap.append(_average_precision_at_r(hits, r[keep]))
    first = torch.cat(p1)
    return RetrievalReport(
        precision_at_1=float(first.double().mean()),
        recall_at_k={k: float(torch.cat(v).double().mean()) for k, v in recall.items()},
        map_at_r=float(torch.cat(ap).mean()),
        n_queries=int(first.numel()),
    )


def _queries(y: Tensor) -> Tensor:
    """``(N,)`` bool: items whose class has another item (the others cannot retrieve a match)."""
    keep = torch.bincount(y)[y] > 1
    if not bool(keep.any()):
        raise ValueError("retrieval needs a class with at least two items; every label is unique")
    return keep


@torch.no_grad()
def precision_at_1(z: ArrayLike, labels: ArrayLike, distance: DistanceLike = "euclidean") -> float:
    """Leave-one-out share of items whose nearest other item has the same class.

    Exact (every pair's distance, in the embeddings' precision) and memory-bounded: queries go in
    blocks of about ``BLOCK_ELEMENTS`` distances. Among equally near items the one with the
    smallest index counts; items alone in their class are left out, as in
    :func:`retrieval_metrics` (whose ``precision_at_1`` this equals) and pytorch-metric-learning.
    This is the validation metric of training too.

    Args:
        z: ``(N, D)`` embeddings.
        labels: ``(N,)`` class labels.
        distance: a distance name or ``Distance`` object.

    Example:
        >>> precision_at_1(torch.tensor([[0.0], [0.1], [0.5], [1.0], [1.1]]), [0, 0, 1, 1, 1])
        0.8
    """
    zt = as_embeddings(z)
    y = as_labels(labels, zt.shape[0])
    keep = _queries(y)
    dist = resolve_distance(distance)
    hits = [
        _nearest_hits(_leave_self_out(block, s), s, y)[keep[s : s + block.shape[0]]]
        for s, block in distance_rows(zt, dist)  # block (rows, N)
    ]
    return float(torch.cat(hits).double().mean())


def recall_at_k(
    z: ArrayLike,
    labels: ArrayLike,
    distance: DistanceLike = "euclidean",
    ks: Iterable[int] = (1, 5, 10),
) -> dict[int, float]:
    """Leave-one-out Recall@K: share of queries with a same-class item among the ``k`` nearest."""
    return dict(retrieval_metrics(z, labels, distance, ks=ks).recall_at_k)


def map_at_r(z: ArrayLike, labels: ArrayLike, distance: DistanceLike = "euclidean") -> float:
    """Leave-one-out MAP@R (Musgrave et al. 2020)."""
    return retrieval_metrics(z, labels, distance, ks=(1,)).map_at_r


@torch.no_grad()
def knn_classify(
    train_z: ArrayLike,
    train_y: ArrayLike,
    test_z: ArrayLike,
    k: int = 1,
    distance: DistanceLike = "euclidean",
) -> np.ndarray:
    """Predict each test item's label by a majority vote of its ``k`` nearest training items.

    Ties between classes go to the smallest label, as in scikit-learn's ``KNeighborsClassifier``.

    Args:
        train_z: ``(M, D)`` training embeddings; train_y: ``(M,)`` their labels.
        test_z: ``(N, D)`` embeddings to classify.
        k: neighbours that vote; distance: a distance name or ``Distance`` object.

    Returns:
        ``(N,)`` predicted labels, in the type of ``train_y``.

    Example:
        >>> knn_classify(torch.tensor([[0.0], [1.0]]), ["a", "b"], torch.tensor([[0.2]])).tolist()
        ['a']
    """
    tr = as_embeddings(train_z, "train embeddings")
    te = as_embeddings(test_z, "test embeddings")
    if tr.shape[1] != te.shape[1]:
        raise ValueError(
            f"train and test embeddings differ in size: {tr.shape[1]} vs {te.shape[1]}"
        )
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= tr.shape[0]:
        raise ValueError(
            f"k must be an integer in 1..{tr.shape[0]} (the training items), got {k!r}"
        )
    codes, classes = encode_labels(train_y, tr.shape[0], "train labels")
    codes = codes.to(tr.device)
    dist = resolve_distance(distance)
    te = te.to(tr.device, tr.dtype)
    step = row_chunk(tr.shape[0])
    preds = []
    for s in range(0, te.shape[0], step):
        d = dist.matrix(te[s : s + step], tr)  # (rows, M)
        nn = d.topk(int(k), dim=1, largest=False).indices  # (rows, k)
        votes = torch.zeros(nn.shape[0], classes.size, device=tr.device)
        votes.scatter_add_(1, codes[nn], torch.ones(nn.shape, device=tr.device))
        preds.append(votes.argmax(dim=1).cpu())  # first max = smallest label
    return classes[torch.cat(preds).numpy()]


def knn_accuracy(
    train_z: ArrayLike,
    train_y: ArrayLike,
    test_z: ArrayLike,
    test_y: ArrayLike,
    k: int = 1,
    distance: DistanceLike = "euclidean",
) -> float:
    """Accuracy of :func:`knn_classify` on labelled test embeddings."""
    pred = knn_classify(train_z, train_y, test_z, k, distance)
    truth = test_y.detach().cpu().numpy() if isinstance(test_y, Tensor) else np.asarray(test_y)
    if truth.shape != pred.shape:
        raise ValueError(f"got {truth.shape[0]} test labels for {pred.shape[0]} test embeddings")
    return float((pred == truth).mean())
