"""Pair mining: each strategy against its definition written as loops (via the naive triplet sets)."""

from __future__ import annotations

import pytest
import torch
from naive_mining import naive_triplets

from siamkit.distances import get_distance
from siamkit.miners import PairMiner, mine_pairs, pair_selection


def _batch(b: int = 26, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(b, 5, generator=g), dim=1), torch.randint(
        0, 4, (b,), generator=g
    )


def _naive_pairs(
    dist: torch.Tensor, y: torch.Tensor, strategy: str, margin: float
) -> set[tuple[int, int]]:
    b = len(y)
    if strategy == "all":
        return {(i, j) for i in range(b) for j in range(i + 1, b)}
    if strategy == "hardest":
        out = set()
        for a in range(b):
            pos = [j for j in range(b) if j != a and y[j] == y[a]]
            neg = [j for j in range(b) if y[j] != y[a]]
            if pos:
                out.add((a, max(pos, key=lambda j: (float(dist[a, j]), -j))))
            if neg:
                out.add((a, min(neg, key=lambda j: (float(dist[a, j]), j))))
        return out
    trip = naive_triplets(dist, y, strategy, margin)
    return {(a, p) for a, p, _ in trip} | {(a, n) for a, _, n in trip}


@pytest.mark.parametrize("strategy", ["all", "hardest", "hard", "semihard", "easy"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_pair_strategies_match_definitions(strategy: str, distance: str) -> None:
    z, y = _batch()
    y[3] = 50  # a singleton: only negatives
    pairs = mine_pairs(z, y, strategy, margin=0.25, distance=distance)
    got = list(zip(pairs.first.tolist(), pairs.second.tolist()))
    dist = get_distance(distance).matrix(z, z)
    assert len(got) == len(set(got))
    assert set(got) == _naive_pairs(dist, y, strategy, 0.25)
    assert torch.equal(pairs.same, y[pairs.first] == y[pairs.second])
    assert pairs.first.dtype == torch.long


def test_hard_pairs_are_out_of_order_pairs() -> None:
    z, y = _batch(seed=4)
    dist = get_distance("euclidean").matrix(z, z)
    sel = pair_selection(dist, y, "hard")
    same = y[:, None] == y[None, :]
    eye = torch.eye(len(y), dtype=torch.bool)
    far_pos = dist.masked_fill(~same | eye, float("-inf")).max(1).values
    near_neg = dist.masked_fill(same, float("inf")).min(1).values
    want = (same & ~eye & (dist > near_neg[:, None])) | (~same & (dist < far_pos[:, None]))
    assert torch.equal(sel, want)


def test_pair_miner_object_and_errors() -> None:
    z, y = _batch()
    a = PairMiner("semihard", margin=0.1)(z, y)
    b = mine_pairs(z, y, "semihard", margin=0.1)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    with pytest.raises(ValueError, match="unknown mining strategy"):
        PairMiner("batch_hard")
    with pytest.raises(ValueError, match="one label per embedding"):
        mine_pairs(z, y[:3])
