"""ContrastiveLoss over all / given / mined pairs against a loop over pairs with the seed formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamkit.distances import get_distance
from siamkit.losses.contrastive import ContrastiveLoss
from siamkit.miners import PairMiner, mine_pairs
from siamkit.types import Pairs


def _batch(b: int = 18, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(b, 5, generator=g), dim=1), torch.randint(
        0, 3, (b,), generator=g
    )


def _loop(
    z: torch.Tensor, pairs: list[tuple[int, int]], y: torch.Tensor, margin: float, distance: str
):
    dist = get_distance(distance)
    terms = []
    for i, j in pairs:
        d = dist.pairwise(z[i : i + 1], z[j : j + 1])[0]
        terms.append(d**2 if y[i] == y[j] else F.relu(margin - d) ** 2)
    return torch.stack(terms).mean()


def _vg(fn, z0):
    z = z0.clone().requires_grad_(True)
    v = fn(z)
    v.backward()
    return v.detach(), z.grad


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_all_pairs_equal_loop_over_i_lt_j(distance: str) -> None:
    z0, y = _batch()
    b = len(y)
    pairs = [(i, j) for i in range(b) for j in range(i + 1, b)]
    v1, g1 = _vg(lambda z: ContrastiveLoss(0.8, distance)(z, y), z0)
    v2, g2 = _vg(lambda z: _loop(z, pairs, y, 0.8, distance), z0)
    assert torch.allclose(v1, v2, rtol=1e-5) and torch.allclose(g1, g2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("strategy", ["hardest", "hard", "semihard", "easy"])
def test_mined_pairs_fused_equals_listed(strategy: str) -> None:
    z0, y = _batch(seed=1)
    p = mine_pairs(z0, y, strategy, 0.2)
    listed = list(zip(p.first.tolist(), p.second.tolist()))
    v1, g1 = _vg(lambda z: ContrastiveLoss(1.0, mining=strategy)(z, y), z0)
    v2, g2 = _vg(lambda z: _loop(z, listed, y, 1.0, "euclidean"), z0)
    v3, g3 = _vg(lambda z: ContrastiveLoss(1.0)(z, y, p), z0)
    assert torch.allclose(v1, v2, rtol=1e-5) and torch.allclose(g1, g2, rtol=1e-4, atol=1e-6)
    assert torch.allclose(v1, v3, rtol=1e-5) and torch.allclose(g1, g3, rtol=1e-4, atol=1e-6)
    miner = ContrastiveLoss(1.0, mining=PairMiner(strategy, 0.2))
    assert torch.allclose(miner(z0, y), v1)


def test_from_pairs_is_the_seed_formula() -> None:
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g)
    same = torch.tensor([1, 0] * 5)
    d = torch.linalg.vector_norm(z1 - z2, dim=1)
    want = (same * d**2 + (1 - same) * torch.clamp(2.0 - d, min=0) ** 2).mean()
    assert torch.allclose(ContrastiveLoss(margin=2.0).from_pairs(z1, z2, same), want)


def test_empty_and_bad_input() -> None:
    z = torch.randn(4, 3, requires_grad=True)
    loss = ContrastiveLoss(mining="semihard")(z, torch.zeros(4, dtype=torch.long))
    assert float(loss.detach()) == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert float(z.grad.abs().sum()) == 0.0
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        ContrastiveLoss()(
            z, torch.arange(4), Pairs(torch.tensor([0]), torch.tensor([4]), torch.tensor([True]))
        )
    with pytest.raises(ValueError, match="unknown mining strategy"):
        ContrastiveLoss(mining="batch_hard")
