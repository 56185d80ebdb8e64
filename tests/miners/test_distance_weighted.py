"""Distance-weighted sampling (Wu et al., 2017) against its formula and by its empirical frequencies."""

from __future__ import annotations

import math

import torch

from siamkit.miners import DistanceWeightedMiner, mine_triplets
from siamkit.miners.distance_weighted import distance_weights


def _batch(b: int = 12, dim: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z = torch.nn.functional.normalize(torch.randn(b, dim, generator=g), dim=1)
    return z, torch.arange(b) % 3


def _naive_weights(
    z: torch.Tensor, y: torch.Tensor, a: int, cutoff: float, nz: float
) -> list[float]:
    dim = z.shape[1]
    w = []
    for j in range(len(y)):
        d = float(torch.linalg.vector_norm(z[a] - z[j]))
        if y[j] == y[a] or d >= nz:
            w.append(0.0)
            continue
        dc = max(d, cutoff)
        w.append(math.exp((2 - dim) * math.log(dc) - (dim - 3) / 2 * math.log(1 - dc * dc / 4)))
    s = sum(w)
    return [v / s for v in w]


def test_weights_follow_the_inverse_density() -> None:
    z, y = _batch()
    dist = torch.cdist(z, z)
    neg = y[:, None] != y[None, :]
    w = distance_weights(dist, neg, z.shape[1], cutoff=0.5, nonzero_loss_cutoff=1.4)
    for a in range(4):
        assert torch.allclose(w[a], torch.tensor(_naive_weights(z, y, a, 0.5, 1.4)), atol=1e-5)


def test_samples_are_valid_reproducible_and_distributed_by_weight() -> None:
    z, y = _batch()
    miner = DistanceWeightedMiner(per_positive=3000, generator=torch.Generator().manual_seed(0))
    t = miner(z, y)
    n_pos_pairs = sum(int((y == y[i]).sum()) - 1 for i in range(len(y)))
    assert len(t.anchor) == 3000 * n_pos_pairs
    assert bool((y[t.anchor] == y[t.positive]).all() and (t.anchor != t.positive).all())
    assert bool((y[t.anchor] != y[t.negative]).all())
    again = DistanceWeightedMiner(per_positive=3000, generator=torch.Generator().manual_seed(0))(
        z, y
    )
    assert all(torch.equal(u, v) for u, v in zip(t, again))
    for a in range(3):
        picked = t.negative[t.anchor == a]
        freq = torch.bincount(picked, minlength=len(y)).double() / len(picked)
        assert torch.allclose(
            freq, torch.tensor(_naive_weights(z, y, a, 0.5, 1.4), dtype=torch.float64), atol=0.02
        )


def test_far_negatives_fall_back_to_uniform() -> None:
    # two classes at opposite poles: every negative is beyond the cutoff, so draws are uniform
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    y = torch.tensor([0, 0, 1, 1])
    t = mine_triplets(
        z, y, "distance_weighted", per_positive=50, generator=torch.Generator().manual_seed(1)
    )
    assert set(t.negative[t.anchor == 0].tolist()) == {2, 3}
