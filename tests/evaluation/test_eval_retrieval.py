"""Leave-one-out retrieval against naive loops and pytorch-metric-learning; k-NN vs scikit-learn."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

import siamkit.evaluation._common as common
from siamkit.distances import get_distance
from siamkit.evaluation import knn_accuracy, knn_classify, map_at_r, recall_at_k, retrieval_metrics


def _naive(z, y, name, ks):
    """Per query: rank every other item, then P@1, Recall@k, AP@R by the definitions."""
    d = get_distance(name).matrix(z, z).numpy()
    p1, ap, rec = [], [], {k: [] for k in ks}
    for q in range(len(y)):
        others = [i for i in range(len(y)) if i != q]
        ranked = sorted(others, key=lambda i: d[q, i])
        rel = [y[i] == y[q] for i in ranked]
        r = sum(rel)
        if r == 0:
            continue
        p1.append(rel[0])
        for k in ks:
            rec[k].append(any(rel[:k]))
        hits, total = 0, 0.0
        for i in range(r):
            if rel[i]:
                hits += 1
                total += hits / (i + 1)
        ap.append(total / r)
    return np.mean(p1), {k: np.mean(v) for k, v in rec.items()}, np.mean(ap), len(p1)


@pytest.mark.parametrize("name", ["euclidean", "cosine", "manhattan"])
def test_matches_naive_loops_across_blocks(monkeypatch, make_clusters, name):
    z, y = make_clusters(n_classes=4, per_class=15, dim=6, spread=0.8)
    y = np.r_[y, 9]  # a lone class: its query is left out
    z = torch.cat([z, torch.randn(1, 6, dtype=z.dtype)])
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 200)
    rep = retrieval_metrics(z, y, name, ks=(1, 3, 10))
    p1, rec, mapr, n = _naive(z, y, name, (1, 3, 10))
    assert rep.n_queries == n == 60
    assert rep.precision_at_1 == pytest.approx(p1)
    assert rep.recall_at_k == pytest.approx(rec)
    assert rep.map_at_r == pytest.approx(mapr)
    assert 0.2 < rep.map_at_r < 0.95


@pytest.mark.parametrize("name", ["euclidean", "cosine"])
def test_matches_pytorch_metric_learning(digits, name):
    from pytorch_metric_learning.distances import CosineSimilarity, LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    logging.getLogger("PML").setLevel(logging.ERROR)
    z, y = digits
    z, y = z[:900] + 1e-4 * torch.randn(900, 64), y[:900]  # break exact ties in ranks
    knn = CustomKNN(
        CosineSimilarity() if name == "cosine" else LpDistance(normalize_embeddings=False)
    )
    calc = AccuracyCalculator(
        include=("precision_at_1", "mean_average_precision_at_r"), k="max_bin_count", knn_func=knn
    )
    ref = calc.get_accuracy(z, torch.from_numpy(y))
    rep = retrieval_metrics(z, y, name)
    assert rep.precision_at_1 == pytest.approx(ref["precision_at_1"], abs=1e-6)
    assert rep.map_at_r == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-6)


def test_perfect_and_hand_cases():
    z = torch.tensor([[0.0], [0.1], [0.5], [1.0], [1.1]])
    y = [0, 0, 1, 1, 1]
    rep = retrieval_metrics(z, y, ks=(1, 2))
    assert rep.precision_at_1 == pytest.approx(4 / 5)
    # AP@R: items 0, 1: R=1, first hit -> 1. item 2 (R=2): ranks .1 (item 1) no, then 0.0 and
    # 1.0 at 0.5 each, by index: 0.0 no, so no hit in the first 2 ranks -> 0 (its first hit is
    # third: not in Recall@2). items 3, 4 (R=2): 1.1/1.0 yes, then 0.5 yes -> 1
    assert rep.map_at_r == pytest.approx((1 + 1 + 0 + 1 + 1) / 5)
    assert rep.recall_at_k[2] == pytest.approx(4 / 5)
    far = retrieval_metrics(z + torch.tensor([[0.0], [0.0], [0.0], [-0.01], [0.0]]), y, ks=(2,))
    assert far.map_at_r == pytest.approx((1 + 1 + 0.25 + 1 + 1) / 5)  # 1.0 moved nearer 0.5
    assert far.recall_at_k[2] == 1.0
    assert map_at_r(z, y) == rep.map_at_r and recall_at_k(z, y, ks=(2,)) == {2: 4 / 5}


def test_only_lone_items_raise():
    with pytest.raises(ValueError, match="two items"):
        retrieval_metrics(torch.randn(3, 2), [0, 1, 2])
    # one class: every neighbour is a hit, so every metric (NMI and AMI too) would read 1.0
    with pytest.raises(ValueError, match="at least two classes"):
        retrieval_metrics(torch.randn(6, 2), ["a"] * 6, clustering=True)
    rep = retrieval_metrics(torch.randn(6, 2), ["a"] * 5 + ["b"])  # one lone item of another
    assert rep.n_queries == 5 and rep.map_at_r <= 1.0
    with pytest.raises(ValueError, match="ks"):
        retrieval_metrics(torch.randn(4, 2), [0, 0, 1, 1], ks=(0,))


@pytest.mark.parametrize(("k", "name"), [(1, "euclidean"), (5, "euclidean"), (7, "manhattan")])
def test_knn_matches_sklearn(digits, k, name):
    z, y = digits
    z = z + 1e-4 * torch.randn_like(z)  # no exact distance ties
    train, test = slice(0, 1200), slice(1200, None)
    pred = knn_classify(z[train], y[train], z[test], k=k, distance=name)
    metric = "euclidean" if name == "euclidean" else "manhattan"
    sk = KNeighborsClassifier(n_neighbors=k, metric=metric, algorithm="brute")
    sk_pred = sk.fit(z[train].numpy(), y[train]).predict(z[test].numpy())
    assert (pred == sk_pred).mean() == 1.0
    acc = knn_accuracy(z[train], y[train], z[test], y[test], k=k, distance=name)
    assert acc == pytest.approx((sk_pred == y[test]).mean()) and acc > 0.9


def test_knn_ties_go_to_the_smallest_label_and_keep_label_type():
    train = torch.tensor([[0.0], [1.0], [3.0], [4.0]])
    pred = knn_classify(train, ["b", "a", "b", "a"], torch.tensor([[0.5]]), k=2)
    assert pred.tolist() == ["a"]
    with pytest.raises(ValueError, match="k must"):
        knn_classify(train, [0, 1, 0, 1], torch.tensor([[0.5]]), k=5)
    with pytest.raises(ValueError, match="differ in size"):
        knn_classify(train, [0, 1, 0, 1], torch.tensor([[0.5, 1.0]]))


class _NanAtLastItem:
    """Euclidean, but NaN to the last item (a learned metric gone NaN on finite embeddings)."""

    name = "nan-at-last"

    def matrix(self, x, y):
        d = torch.cdist(x, y)
        d[:, -1] = float("nan")
        return d

    def pairwise(self, x, y):
        return (x - y).norm(dim=1)


def test_nan_distances_are_refused_not_ranked():
    """argmin took the NaN item for the nearest (P@1 0.4 where it is 0.8); the ranking put it last."""
    from siamkit.evaluation import precision_at_1

    z = torch.tensor([[0.0], [0.1], [5.0], [5.1], [9.0]])
    y = [0, 0, 1, 1, 0]
    for run in (
        lambda: retrieval_metrics(z, y, _NanAtLastItem()),
        lambda: precision_at_1(z, y, _NanAtLastItem()),
    ):
        with pytest.raises(ValueError, match=r"^the distance gave NaN for some pairs"):
            run()
    assert precision_at_1(z, y) == 0.8  # the same items under a plain distance
