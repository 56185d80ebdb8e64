"""Offline mining in chunks equals online mining over the whole set, without an N x N matrix."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from naive_mining import as_list, as_set

from siamkit.distances import get_distance
from siamkit.miners import (
    embed_dataset,
    mine_epoch,
    mine_pairs,
    mine_triplets,
    offline_mine_pairs,
    offline_mine_triplets,
)


def _data(n: int = 60, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, 6, generator=g), dim=1), torch.randint(
        0, 5, (n,), generator=g
    )


@dataclass
class RecordingDistance:
    """Euclidean distance that remembers the largest matrix it was asked for."""

    name: str = "recording"
    shapes: list = field(default_factory=list)

    def pairwise(self, x, y):
        return get_distance("euclidean").pairwise(x, y)

    def matrix(self, x, y):
        self.shapes.append((x.shape[0], y.shape[0]))
        return get_distance("euclidean").matrix(x, y)


@pytest.mark.parametrize("strategy", ["hard", "semihard", "easy", "all", "batch_hard"])
def test_chunked_sets_equal_online_sets(strategy: str) -> None:
    z, y = _data()
    rec = RecordingDistance()
    got = offline_mine_triplets(z, y, strategy, 0.3, rec, per_anchor=None, chunk_size=7)
    assert max(r for r, _ in rec.shapes) <= 7
    assert len(as_list(got)) == len(as_set(got))
    assert as_set(got) == as_set(mine_triplets(z, y, strategy, 0.3))


@pytest.mark.parametrize("strategy", ["all", "hardest", "hard", "semihard", "easy"])
def test_chunked_pairs_equal_online_pairs(strategy: str) -> None:
    z, y = _data(seed=1)
    got = offline_mine_pairs(z, y, strategy, 0.3, chunk_size=9)
    want = mine_pairs(z, y, strategy, 0.3)
    assert set(zip(got.first.tolist(), got.second.tolist())) == set(
        zip(want.first.tolist(), want.second.tolist())
    )
    assert torch.equal(got.same, y[got.first] == y[got.second])


@pytest.mark.parametrize("strategy", ["semihard", "hard", "random"])
def test_sampled_triplets_are_from_the_set_and_reproducible(strategy: str) -> None:
    z, y = _data(30, seed=2)
    full = as_set(mine_triplets(z, y, "all" if strategy == "random" else strategy, 0.3))
    kw = dict(per_anchor=400, chunk_size=8)
    t1 = offline_mine_triplets(
        z, y, strategy, 0.3, generator=torch.Generator().manual_seed(5), **kw
    )
    t2 = offline_mine_triplets(
        z, y, strategy, 0.3, generator=torch.Generator().manual_seed(5), **kw
    )
    assert all(torch.equal(u, v) for u, v in zip(t1, t2))
    assert as_set(t1) <= full
    anchors = {a for a, _, _ in full}
    assert len(t1.anchor) == 400 * len(anchors)
    counts = torch.bincount(t1.anchor, minlength=30)
    assert set(counts.nonzero().flatten().tolist()) == anchors
    if strategy != "random":  # small per-anchor sets: 400 uniform draws reach (nearly) all of them
        per_anchor_size = torch.bincount(torch.tensor([a for a, _, _ in full]), minlength=30)
        small = [a for a in anchors if per_anchor_size[a] <= 20]
        drawn = as_set(t1)
        assert all({t for t in full if t[0] == a} <= drawn for a in small)


def test_embed_dataset_and_mine_epoch() -> None:
    x = torch.randn(50, 10)
    y = torch.arange(50) % 5
    net = torch.nn.Linear(10, 4)
    z1 = embed_dataset(net, x, batch_size=16)
    z2 = embed_dataset(net, [x[:20], x[20:]])
    assert torch.allclose(z1, net(x).detach()) and torch.allclose(z1, z2)
    assert not z1.requires_grad
    t = mine_epoch(net, x, y, "batch_hard", batch_size=16, chunk_size=16)
    assert as_set(t) == as_set(mine_triplets(net(x).detach(), y, "batch_hard"))
    with pytest.raises(ValueError, match="chunk_size"):
        offline_mine_triplets(z1, y, "hard", chunk_size=0)
    with pytest.raises(ValueError, match="unknown mining strategy"):
        offline_mine_triplets(z1, y, "distance_weighted")
