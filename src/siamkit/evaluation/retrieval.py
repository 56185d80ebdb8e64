"""Leave-one-out retrieval metrics (P@1, Recall@K, MAP@R, R-precision, MAP, MRR), clustering
NMI / AMI and k-NN classification.

Every item queries all the others (itself excluded). A query whose class has no other item
cannot retrieve anything relevant and is left out, as pytorch-metric-learning does. MAP@R
follows Musgrave et al., "A Metric Learning Reality Check" (2020): with ``R`` the number of
other items of the query's class, ``MAP@R = 1/R * sum_{i<=R} P(i) * rel(i)``.
R-precision is the share of relevant items among the first ``R``; MAP (pytorch-metric-learning's
``mean_average_precision`` with ``k=None``) is the same sum over every rank, ``1/R * sum_i
P(i) * rel(i)``; MRR is the mean of ``1 / rank`` of the first relevant item.
Work runs in blocks of queries, so memory stays bounded. A query's nearest item among items at
the same distance is the one with the smallest index (``argmin``'s rule), so P@1 is exact and
deterministic even with ties (duplicated or collapsed embeddings). MAP@R, R-precision and MAP
read one ranking of each query's other items, by float32 distance and equally near items by
index, so they are deterministic with ties as well and agree on them. Recall@K (K > 1) and MRR
read the rank of the nearest hit in that ranking for float32 (or narrower) embeddings, and in
the embeddings' precision otherwise, by P@1's rule: Recall@K is never below P@1 nor decreasing
in K, and MRR never below P@1.

NMI and AMI (optional) compare the classes with a seeded k-means (scikit-learn) of the
embeddings into as many clusters as there are classes, as pytorch-metric-learning does: every
item is clustered, those alone in their class too, on the embeddings as they are (Euclidean
k-means, whatever the retrieval distance).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from siamkit.distances import widened_once
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
    ``k`` nearest neighbours (so ``recall_at_k[1] == precision_at_1``). ``nmi`` and ``ami``
    are ``None`` when clustering was not computed, and then left out of :meth:`to_dict`.
    """

    precision_at_1: float
    recall_at_k: Mapping[int, float]
    map_at_r: float
    n_queries: int
    r_precision: float
    mean_average_precision: float
    mean_reciprocal_rank: float
    nmi: float | None = None
    ami: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metrics; ``recall_at_k`` keys are strings (``"1"``, ``"5"``, ...)."""
        out = {
            "precision_at_1": self.precision_at_1,
            "map_at_r": self.map_at_r,
            "recall_at_k": {str(k): v for k, v in self.recall_at_k.items()},
            "n_queries": self.n_queries,
            "r_precision": self.r_precision,
            "mean_average_precision": self.mean_average_precision,
            "mean_reciprocal_rank": self.mean_reciprocal_rank,
        }
        if self.nmi is not None and self.ami is not None:
            out["nmi"], out["ami"] = self.nmi, self.ami
        return out


def _check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    out = as_sequence(ks, "ks", "(1, 5)")
    if not all(isinstance(k, (int, np.integer)) and k >= 1 for k in out):
        raise ValueError(f"ks must be positive integers, got {out}")
    return tuple(int(k) for k in out)


def _leave_self_out(block: Tensor, start: int) -> Tensor:
    """A float ``(rows, N)`` distance block of queries ``start..`` with each query's own column at
    ``inf`` (in place where the block is already floating point).

    A NaN distance between two items is refused: ``argmin`` would take it for the nearest and
    the ranking put it last, so P@1 and the rest would be figures of nothing (the embeddings
    are finite by then; a learned metric whose weights became NaN gives it). Verification
    refuses it too (:func:`~siamkit.evaluation._common.as_scores`)."""
    block = block if block.is_floating_point() else block.double()
    rows = block.shape[0]
    block[torch.arange(rows), torch.arange(start, start + rows)] = torch.inf
    if bool(block.isnan().any()):
        raise ValueError(
            "the distance gave NaN for some pairs of finite embeddings, so nothing can be ranked; "
            "check the distance (a learned metric's weights may have become NaN)"
        )
    return block


def _nearest_hits(block: Tensor, start: int, y: Tensor) -> Tensor:
    """``(rows,)`` bool: whether each query's nearest other item has its class.

    ``block`` is ``(rows, N)`` distances from queries ``start..start+rows`` to every item, self
    already at ``inf``; among equally near items the smallest index wins (``argmin``'s rule).
    """
    return y[block.argmin(dim=1)] == y[start : start + block.shape[0]]


def _ranked_hits(block: Tensor, queries: Tensor, y: Tensor) -> Tensor:
    """``(rows, N - 1)`` bool: whether each query's other items, nearest first, have its class.

    ``block`` is ``(rows, N)`` distances from the items ``queries`` (a scratch copy: it may be
    overwritten). Items are ranked by float32 distance, equally near ones by index, through one
    int64 key per item, ``distance bits | index | same class``, sorted by numpy: about twice as
    fast as a stable ``torch.sort`` on the CPU. The query itself is ranked last, and cut off.
    """
    f = block.float().add_(0.0)  # -0.0 becomes 0.0
    bits = f.view(torch.int32)
    bits ^= (bits >> 31) & 0x7FFFFFFF  # as signed integers, in the order of the floats
    keys = bits.long()
    keys <<= 32
    keys |= torch.arange(block.shape[1]) << 1
    keys |= y == y[queries, None]
    keys[torch.arange(queries.numel()), queries] = torch.iinfo(torch.int64).max
    keys.numpy().sort(axis=1)  # in place
    return (keys[:, :-1] & 1).bool()


def _first_hit_rank(block: Tensor, queries: Tensor, y: Tensor) -> Tensor:
    """``(rows,)`` the rank of each query's nearest same-class item among its other items, by
    distance in ``block``'s own precision and equally near items by index (``argmin``'s rule,
    :func:`_nearest_hits`'): rank 1 exactly where P@1 counts a hit, so Recall@K, which reads
    it, is never below P@1 in K. The float32 ranking of :func:`_ranked_hits` can tie a float64
    block's nearest hit with nearer-indexed misses and rank it past K.

    ``block`` is ``(rows, N)`` distances from the items ``queries`` (each with another item of
    its class), self already at ``inf``.
    """
    rows, n = block.shape
    own = torch.arange(rows)
    hit = y == y[queries, None]
    hit[own, queries] = False
    masked = torch.where(hit, block, torch.inf)
    at = masked.argmin(dim=1)  # the nearest hit, smallest index
    # every hit at inf (an overflowed distance): argmin took the row's first index, a miss or
    # the query itself; the nearest hit is then the first hit, by the index rule
    at = torch.where(torch.isposinf(masked[own, at]), hit.int().argmax(dim=1), at)
    near = block[own, at][:, None]
    before = (block < near) | ((block == near) & (torch.arange(n) < at[:, None]))
    before[own, queries] = False  # self, at inf, is not an item (were every hit at inf too)
    return before.sum(dim=1) + 1


def _ranked_metrics(hits: Tensor, r: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(Q, N - 1)`` bool hits over each query's whole ranking and ``(Q,)`` R (its hits, > 0)
    -> ``(Q,)`` R-precision, average precision, AP@R (the first ``R`` ranks' share of it,
    Musgrave et al.'s MAP@R term) and the rank of the first hit."""
    row, col = hits.nonzero(as_tuple=True)  # row-major: each row's hits in rank order
    rank = (col + 1).double()
    first = torch.cumsum(r, 0) - r  # each row's first hit, as an index into row / col
    nth = torch.arange(1, row.numel() + 1) - first[row]  # the hit's number in its row: P's count
    rq = r.double()
    within_r = (col < r[row]).double()
    ap = torch.zeros_like(rq).index_add_(0, row, nth / rank) / rq
    ap_r = torch.zeros_like(rq).index_add_(0, row, within_r * nth / rank) / rq
    r_prec = torch.zeros_like(rq).index_add_(0, row, within_r) / rq
    return r_prec, ap, ap_r, rank[first]


def _clustering(z: Tensor, y: Tensor, seed: int) -> tuple[float, float]:
    """NMI and AMI of the classes ``y`` against a seeded k-means of ``z`` into as many
    clusters as there are classes (pytorch-metric-learning's ``NMI`` and ``AMI``)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

    truth = y.numpy()
    k = int(np.unique(truth).size)
    x = z.detach().cpu().float().numpy()  # in float32, as pytorch-metric-learning
    found = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(x)
    return (
        float(normalized_mutual_info_score(truth, found)),
        float(adjusted_mutual_info_score(truth, found)),
    )


@torch.no_grad()
def retrieval_metrics(
    z: ArrayLike,
    labels: ArrayLike,
    distance: DistanceLike = "euclidean",
    ks: Iterable[int] = (1, 5, 10),
    clustering: bool = False,
    seed: int = 0,
) -> RetrievalReport:
    """Leave-one-out P@1, Recall@K, MAP@R, R-precision, MAP and MRR of every item against all
    others; with ``clustering``, NMI and AMI of a k-means of the embeddings.

    Args:
        z: ``(N, D)`` embeddings.
        labels: ``(N,)`` class labels.
        distance: a distance name or ``Distance`` object.
        ks: the ``k`` values for Recall@K.
        clustering: also compute NMI and AMI. Off by default: scikit-learn's k-means takes
            about 0.7 CPU-s on 10,000 x 128 embeddings of 10 classes but 40 with 1,000 classes
            (its cost grows with the number of classes).
        seed: seeds the k-means.

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
    if int(y.max()) == 0:  # codes 0..C-1: one class
        raise ValueError(
            "retrieval needs items of at least two classes: with one, every item's neighbours "
            "are all of its class and every metric would be a perfect 1; give labels of two or "
            "more classes"
        )
    r_all = torch.bincount(y)[y] - 1  # (N,) other items of the same class
    dist = resolve_distance(distance)
    p1: list[Tensor] = []
    ranked: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
    hit_ranks: list[Tensor] = []
    recall: dict[int, list[Tensor]] = {k: [] for k in ks}
    for s, block in distance_rows(zt, dist, desc="retrieval"):  # block (rows, N)
        rows = block.shape[0]
        block = _leave_self_out(block, s)
        r = r_all[s : s + rows]
        keep = r > 0
        first = _nearest_hits(block, s, y)[keep]  # in the block's own precision
        p1.append(first)
        ranked_hits = _ranked_hits(block[keep], s + keep.nonzero()[:, 0], y)
        metrics = _ranked_metrics(ranked_hits, r[keep])
        ranked.append(metrics)
        first_rank = metrics[3]  # in float32, which holds every narrower float exactly
        if torch.finfo(block.dtype).bits > 32:  # else in the block's own precision, as P@1
            first_rank = _first_hit_rank(block[keep], s + keep.nonzero()[:, 0], y)
        hit_ranks.append(first_rank)
        for k in ks:  # k = 1 is P@1; the others the first hit's rank in the same precision
            recall[k].append(first if k == 1 else first_rank <= k)
    first = torch.cat(p1)
    r_prec, full_ap, ap_r, _ = (torch.cat(m) for m in zip(*ranked))
    first_rank = torch.cat(hit_ranks).double()
    nmi, ami = _clustering(zt, y, seed) if clustering else (None, None)
    return RetrievalReport(
        precision_at_1=float(first.double().mean()),
        recall_at_k={k: float(torch.cat(v).double().mean()) for k, v in recall.items()},
        map_at_r=float(ap_r.mean()),
        n_queries=int(first.numel()),
        r_precision=float(r_prec.mean()),
        mean_average_precision=float(full_ap.mean()),
        mean_reciprocal_rank=float((1.0 / first_rank).mean()),
        nmi=nmi,
        ami=ami,
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
    with widened_once(tr):  # tr's float64 copy once, not per block
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
