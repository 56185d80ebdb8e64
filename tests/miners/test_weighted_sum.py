"""The written-out gradient of sum(W * D) equals autograd through the distance matrix."""

from __future__ import annotations

import pytest
import torch

from siamkit.distances import MahalanobisDistance, get_distance
from siamkit.miners.weighted_sum import analytic_kind, weighted_distance_sum


@pytest.mark.parametrize("kind", ["euclidean", "sqeuclidean"])
def test_gradient_matches_autograd(kind: str) -> None:
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(30, 7, generator=g, dtype=torch.float64)
    z0[5] = z0[9]  # a duplicate: distance 0, gradient 0 there
    w = torch.randint(-3, 4, (30, 30), generator=g).double()
    dist_fn = get_distance(kind)

    z1 = z0.clone().requires_grad_(True)
    ref = (w * dist_fn.matrix(z1, z1)).sum()
    ref.backward()
    z2 = z0.clone().requires_grad_(True)
    with torch.no_grad():
        d = dist_fn.matrix(z2.detach(), z2.detach())
    got = weighted_distance_sum(z2, w, d, kind)
    (got * 2.0).backward()
    assert torch.allclose(got, ref)
    assert torch.allclose(z2.grad, 2.0 * z1.grad, atol=1e-10)
    assert torch.isfinite(z2.grad).all()


def test_only_stock_distances_are_analytic() -> None:
    assert analytic_kind(get_distance("euclidean")) == "euclidean"
    assert analytic_kind(get_distance("sqeuclidean")) == "sqeuclidean"
    assert analytic_kind(get_distance("cosine")) is None
    assert analytic_kind(MahalanobisDistance(3)) is None
    with pytest.raises(ValueError, match="kind"):
        weighted_distance_sum(torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2, 2), "cosine")
