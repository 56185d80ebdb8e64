"""The pair-margin miner: the same pairs as pytorch-metric-learning's PairMarginMiner and as a loop."""

from __future__ import annotations

import pytest
import torch

from siamkit.distances import get_distance
from siamkit.miners import PairMarginMiner
from siamkit.miners.registry import MINERS


def _batch(b: int = 40, seed: int = 0, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    z = torch.nn.functional.normalize(torch.randn(b, 8, generator=g), dim=1)
    return z, torch.randint(0, classes, (b,), generator=g)


def _pairs(p) -> set[tuple[int, int, bool]]:
    return set(zip(p.first.tolist(), p.second.tolist(), p.same.tolist()))


def naive_pair_margin(dist, y, pos_margin, neg_margin) -> set[tuple[int, int, bool]]:
    d, y = dist.tolist(), y.tolist()
    out = set()
    for i in range(len(y)):
        for j in range(len(y)):
            if i == j:
                continue
            same = y[i] == y[j]
            if (same and d[i][j] > pos_margin) or (not same and d[i][j] < neg_margin):
                out.add((i, j, same))
    return out


@pytest.mark.parametrize("distance", ["euclidean", "cosine", "manhattan"])
def test_matches_the_loop_and_lists_each_pair_once(distance: str) -> None:
    z, y = _batch(30, 1)
    margins = (0.9, 1.4) if distance != "manhattan" else (2.0, 3.0)
    got = PairMarginMiner(*margins, distance=distance)(z, y)
    dist = get_distance(distance).matrix(z, z)
    want = naive_pair_margin(dist, y, *margins)
    assert len(got.first) == len(want) and _pairs(got) == want
    assert got.first.dtype == torch.long and got.same.dtype == torch.bool


pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


def _pml_pairs(indices) -> set[tuple[int, int, bool]]:
    a1, p, a2, n = (t.tolist() for t in indices)
    return {(i, j, True) for i, j in zip(a1, p)} | {(i, j, False) for i, j in zip(a2, n)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_pairs_as_pml(seed: int) -> None:
    z, y = _batch(48, seed)
    pml = pml_miners.PairMarginMiner(
        pos_margin=1.0,
        neg_margin=1.3,
        distance=pml_distances.LpDistance(normalize_embeddings=False),
    )
    got = _pairs(PairMarginMiner(1.0, 1.3)(z, y))
    assert got == _pml_pairs(pml(z, y))
    assert {s for *_, s in got} == {True, False}  # both kinds mined


def test_cosine_distance_matches_pml_cosine_similarity() -> None:
    # PML's margins are similarities there (positives below, negatives above); ours 1 - them
    z, y = _batch(48, 4)
    pml = pml_miners.PairMarginMiner(
        pos_margin=0.5, neg_margin=0.1, distance=pml_distances.CosineSimilarity()
    )
    assert _pairs(PairMarginMiner(0.5, 0.9, distance="cosine")(z, y)) == _pml_pairs(pml(z, y))


def test_ties_follow_pmls_strict_inequalities() -> None:
    g = torch.Generator().manual_seed(3)
    z = torch.randint(0, 3, (24, 3), generator=g).float()  # integer L1 distances: many ties
    y = torch.randint(0, 3, (24,), generator=g)
    pml = pml_miners.PairMarginMiner(
        pos_margin=2.0,
        neg_margin=2.0,
        distance=pml_distances.LpDistance(p=1, normalize_embeddings=False),
    )
    dist = get_distance("manhattan").matrix(z, z)
    assert bool((dist == 2.0).any())
    got = _pairs(PairMarginMiner(2.0, 2.0, distance="manhattan")(z, y))
    assert got == _pml_pairs(pml(z, y)) == naive_pair_margin(dist, y, 2.0, 2.0)


def test_registered_and_bad_margins_are_named() -> None:
    assert MINERS.build("pair_margin", neg_margin=1.0) == PairMarginMiner(0.2, 1.0)
    with pytest.raises(ValueError, match="neg_margin must be a finite number"):
        PairMarginMiner(neg_margin=float("nan"))
