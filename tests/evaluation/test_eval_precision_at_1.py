"""precision_at_1 (the one P@1 of training and evaluation): exact, chunked, ties by smallest index.

References: a naive loop over every pair, scikit-learn's NearestNeighbors (its sorted distances
give each query's set of equally near items) and pytorch-metric-learning's AccuracyCalculator.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

import siamkit.evaluation._common as common
from siamkit.distances import get_distance
from siamkit.evaluation import precision_at_1, retrieval_metrics


def _naive_p1(z: torch.Tensor, y: np.ndarray, name: str) -> float:
    """Per query: the other item of least distance (ties: least index); lone classes left out."""
    dist = get_distance(name)
    hits = []
    for q in range(len(y)):
        if (y == y[q]).sum() < 2:
            continue
        best, best_i = float("inf"), -1
        for i in range(len(y)):
            if i == q:
                continue
            d = float(dist.pairwise(z[q : q + 1], z[i : i + 1])[0])
            if d < best:
                best, best_i = d, i
        hits.append(y[best_i] == y[q])
    return float(np.mean(hits))


def _tied_data(name: str, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """Points whose distances are exact in floating point, with many exact ties across classes:
    small integer grids (euclidean, manhattan) or scaled signed axis vectors (cosine)."""
    g = torch.Generator().manual_seed(seed)
    if name == "cosine":
        axis = torch.randint(0, 3, (70,), generator=g)
        sign = torch.randint(0, 2, (70,), generator=g) * 2 - 1
        scale = torch.randint(1, 4, (70,), generator=g)  # 1, 2, 3: the norm divides exactly
        z = torch.zeros(70, 3, dtype=torch.float64)
        z[torch.arange(70), axis] = (sign * scale).double()
    else:
        z = torch.randint(0, 3, (70, 2), generator=g).double()
    y = torch.randint(0, 4, (70,), generator=g).numpy()
    y[0] = 9  # a lone class: left out
    return z, y


@pytest.mark.parametrize("name", ["euclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("seed", [0, 1])
def test_ties_match_a_naive_loop_across_blocks(monkeypatch, name, seed):
    z, y = _tied_data(name, seed)
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 150)  # blocks of 2 queries
    ours = precision_at_1(z, y, name)
    assert ours == pytest.approx(_naive_p1(z, y, name), abs=1e-12)
    assert ours == retrieval_metrics(z, y, name, ks=(1, 2)).precision_at_1
    assert retrieval_metrics(z, y, name, ks=(1, 2)).recall_at_k[1] == ours
    # the same points in float32 give the same answer (the distances are exact there too)
    assert precision_at_1(z.float(), y, name) == ours


@pytest.mark.parametrize("name", ["euclidean", "cosine"])
def test_ties_match_sklearn_nearest_neighbors(name):
    z, y = _tied_data(name, 3)
    n = len(y)
    nn = NearestNeighbors(n_neighbors=n, metric=name, algorithm="brute").fit(z.numpy())
    dists, ids = nn.kneighbors(z.numpy())  # every item, sorted by distance
    hits, ties = [], 0
    for q in range(n):
        if (y == y[q]).sum() < 2:
            continue
        others = ids[q] != q
        d, i = dists[q][others], ids[q][others]
        tied = i[d <= d.min() + 1e-9]  # every item as near as the nearest
        ties += len(tied) > 1 and len(set(y[tied])) > 1  # a tie the rule must settle
        hits.append(y[tied.min()] == y[q])
    assert ties > 10  # the data really exercise the tie rule
    assert precision_at_1(z, y, name) == pytest.approx(np.mean(hits), abs=1e-12)


@pytest.mark.parametrize("name", ["euclidean", "cosine"])
def test_matches_sklearn_and_pml_without_ties(digits, name):
    from pytorch_metric_learning.distances import CosineSimilarity, LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    logging.getLogger("PML").setLevel(logging.ERROR)
    z, y = digits
    g = torch.Generator().manual_seed(0)
    z, y = z[:700] + 1e-4 * torch.randn(700, 64, generator=g), y[:700]  # no exact ties
    nn = NearestNeighbors(n_neighbors=2, metric=name, algorithm="brute").fit(z.numpy())
    ids = nn.kneighbors(z.numpy(), return_distance=False)
    nearest = np.where(ids[:, 0] == np.arange(700), ids[:, 1], ids[:, 0])
    ours = precision_at_1(z, y, name)
    assert ours == pytest.approx(float((y[nearest] == y).mean()), abs=1e-12)
    knn = CustomKNN(
        CosineSimilarity() if name == "cosine" else LpDistance(normalize_embeddings=False)
    )
    calc = AccuracyCalculator(include=("precision_at_1",), k=1, knn_func=knn)
    ref = calc.get_accuracy(z, torch.from_numpy(y))["precision_at_1"]
    assert ours == pytest.approx(ref, abs=1e-6)
    assert 0.9 < ours < 1.0


def test_memory_is_bounded_by_blocks(monkeypatch):
    """Each distance block holds at most BLOCK_ELEMENTS values (or one row), whatever N."""
    shapes: list[tuple[int, int]] = []
    base = get_distance("euclidean")

    class Recording:  # a Distance that records each block's shape
        name = "euclidean"

        def pairwise(self, a, b):
            return base.pairwise(a, b)

        def matrix(self, a, b):
            shapes.append((a.shape[0], b.shape[0]))
            return base.matrix(a, b)

    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 1000)
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(300, 4, generator=g), torch.randint(0, 5, (300,), generator=g)
    got = precision_at_1(z, y, Recording())
    assert got == pytest.approx(_naive_p1(z, y.numpy(), "euclidean"))
    assert sum(r for r, _ in shapes) == 300 and len(shapes) > 50
    assert max(r * c for r, c in shapes) <= 1000


def test_lone_items_are_left_out_and_all_lone_raises():
    z = torch.tensor([[0.0], [0.1], [0.3], [5.0]])
    # item 2 (class 1, alone) is left out; item 3's nearest is item 2 but item 3 is alone too
    assert precision_at_1(z, [0, 0, 1, 2]) == 1.0
    assert precision_at_1(z, [0, 1, 0, 1]) == 0.0
    with pytest.raises(ValueError, match="two items"):
        precision_at_1(torch.randn(3, 2), [0, 1, 2])
    with pytest.raises(ValueError, match="one label per embedding"):
        precision_at_1(torch.randn(3, 2), [0, 1])
