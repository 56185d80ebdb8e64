"""The uniform-histogram miner: PML's UniformHistogramMiner draws at random, so these check what
both must do (the same bins, the same number of draws per bin, only valid pairs) and that each
bin's draws are uniform over its pairs."""

from __future__ import annotations

import pytest
import torch

from siamkit.distances import get_distance
from siamkit.miners import UniformHistogramMiner
from siamkit.miners.registry import MINERS
from siamkit.miners.uniform_histogram import histogram_bins


def _batch(b: int = 40, seed: int = 0, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    z = torch.nn.functional.normalize(torch.randn(b, 8, generator=g), dim=1)
    return z, torch.randint(0, classes, (b,), generator=g)


def naive_bins(values: torch.Tensor, num_bins: int) -> list[list[int]]:
    """PML's filter_by_bin: the positions in each bin, one bin at a time."""
    edges = torch.linspace(values.min(), values.max(), steps=num_bins + 1, dtype=values.dtype)
    out = []
    for i in range(num_bins):
        s, e = float(edges[i]), float(edges[i + 1])
        last = i == num_bins - 1
        out.append(
            [k for k, v in enumerate(values.tolist()) if s <= v and (v <= e if last else v < e)]
        )
    return out


def _kind_pairs(dist, y, same: bool):
    i, j = torch.nonzero((y[:, None] == y[None, :]) == same, as_tuple=True)
    keep = i != j
    return i[keep], j[keep], dist[i[keep], j[keep]]


def _bin_counts(first, second, dist, y, same, num_bins) -> list[int]:
    """How many drawn pairs of one kind fall in each of that kind's bins."""
    i, j, values = _kind_pairs(dist, y, same)
    where = {(a, b): k for k, (a, b) in enumerate(zip(i.tolist(), j.tolist()))}
    members = naive_bins(values, num_bins)
    bin_of = {k: b for b, ks in enumerate(members) for k in ks}
    counts = [0] * num_bins
    for a, b in zip(first.tolist(), second.tolist()):
        if (y[a] == y[b]) == same:
            counts[bin_of[where[(a, b)]]] += 1
    return counts


def test_bins_match_the_loop_including_edges() -> None:
    z, _ = _batch(30, 1)
    values = get_distance("euclidean").matrix(z, z).reshape(-1)
    for num_bins in (1, 7, 100):
        got = histogram_bins(values, num_bins)
        for b, ks in enumerate(naive_bins(values, num_bins)):
            assert sorted((got == b).nonzero().reshape(-1).tolist()) == ks
        assert bool((got >= 0).all())
    ties = torch.tensor([0.0, 1.0, 1.0, 2.0, 3.0, 4.0])  # 1.0 and 2.0 and 3.0 sit on edges
    assert histogram_bins(ties, 4).tolist() == [0, 1, 1, 2, 3, 3]
    assert histogram_bins(torch.tensor([0.5, 0.5]), 3).tolist() == [2, 2]  # one value: last bin


def test_every_non_empty_bin_gets_its_draws_and_pairs_are_valid() -> None:
    z, y = _batch(40, 2)
    dist = get_distance("euclidean").matrix(z, z)
    pairs = UniformHistogramMiner(20, 3, 5, generator=torch.Generator().manual_seed(0))(z, y)
    assert bool((pairs.first != pairs.second).all())
    assert torch.equal(pairs.same, y[pairs.first] == y[pairs.second])
    for same, per in ((True, 3), (False, 5)):
        want = [per if ks else 0 for ks in naive_bins(_kind_pairs(dist, y, same)[2], 20)]
        assert _bin_counts(pairs.first, pairs.second, dist, y, same, 20) == want
    n_pos = int(pairs.same.sum())
    assert bool(pairs.same[:n_pos].all()) and not bool(pairs.same[n_pos:].any())  # positives first


def test_draws_within_a_bin_are_uniform_and_reproducible() -> None:
    z, y = _batch(12, 3, classes=2)
    miner = UniformHistogramMiner(1, 20000, 1, generator=torch.Generator().manual_seed(1))
    pairs = miner(z, y)
    pos = pairs.same
    n_kind = int((y[:, None] == y[None, :]).sum() - len(y))
    counts = torch.zeros(12, 12)
    counts.index_put_(
        (pairs.first[pos], pairs.second[pos]), torch.ones(int(pos.sum())), accumulate=True
    )
    hits = counts[counts > 0]
    assert len(hits) == n_kind  # every positive pair drawn
    expect = 20000 / n_kind
    assert float((hits - expect).abs().max()) < 5 * (expect**0.5)  # binomial spread
    again = UniformHistogramMiner(1, 20000, 1, generator=torch.Generator().manual_seed(1))(z, y)
    assert torch.equal(again.first, pairs.first) and torch.equal(again.second, pairs.second)


def test_a_batch_without_positive_pairs_gives_negatives_only() -> None:
    z, _ = _batch(8)
    pairs = UniformHistogramMiner(4, 2, 2)(z, torch.arange(8))
    assert not bool(pairs.same.any()) and 2 <= len(pairs.first) <= 8


pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize("seed", [0, 4])
def test_same_bins_and_draw_counts_as_pml(seed: int) -> None:
    z, y = _batch(48, seed)
    dist = get_distance("euclidean").matrix(z, z)
    torch.manual_seed(seed)
    a1, p, a2, n = pml_miners.UniformHistogramMiner(
        num_bins=30, pos_per_bin=4, neg_per_bin=6,
        distance=pml_distances.LpDistance(normalize_embeddings=False),
    )(z, y)  # fmt: skip
    ours = UniformHistogramMiner(30, 4, 6)(z, y)
    assert len(ours.first) == len(a1) + len(a2)
    for same, (f, s) in ((True, (a1, p)), (False, (a2, n))):
        theirs = _bin_counts(f, s, dist, y, same, 30)
        assert _bin_counts(ours.first, ours.second, dist, y, same, 30) == theirs


def test_registered_and_bad_settings_are_named() -> None:
    assert MINERS.build("uniform_histogram", num_bins=5) == UniformHistogramMiner(5)
    with pytest.raises(ValueError, match="num_bins must be a whole number >= 1"):
        UniformHistogramMiner(0)
    with pytest.raises(ValueError, match="neg_per_bin must be a whole number >= 1"):
        UniformHistogramMiner(neg_per_bin=2.5)  # type: ignore[arg-type]
