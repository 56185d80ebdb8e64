"""Learned metrics: Mahalanobis against the explicit quadratic form, the MLP head's symmetry and range."""

from __future__ import annotations

import pytest
import torch

from siamkit.distances import MahalanobisDistance, MLPMetric, get_distance


def test_mahalanobis_matches_explicit_quadratic_form() -> None:
    m = MahalanobisDistance(6, rank=3, squared=True).double()
    with torch.no_grad():
        m.L.copy_(torch.randn(3, 6, dtype=torch.float64))
    x, y = torch.randn(5, 6, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    M = m.L.T @ m.L
    for i in range(5):
        for j in range(4):
            diff = x[i] - y[j]
            assert m.matrix(x, y)[i, j].item() == pytest.approx((diff @ M @ diff).item(), rel=1e-9)
    diff = x[:4] - y
    torch.testing.assert_close(m.pairwise(x[:4], y), torch.einsum("nd,de,ne->n", diff, M, diff))


def test_mahalanobis_is_a_pseudo_metric_and_starts_euclidean() -> None:
    m = MahalanobisDistance(4)
    x, y, z = torch.randn(3, 10, 4).unbind(0)
    torch.testing.assert_close(m.pairwise(x, y), get_distance("euclidean").pairwise(x, y))
    with torch.no_grad():
        m.L.copy_(torch.randn(4, 4))
    dxy, dyz, dxz = m.pairwise(x, y), m.pairwise(y, z), m.pairwise(x, z)
    assert (dxz <= dxy + dyz + 1e-5).all()  # triangle inequality
    torch.testing.assert_close(dxy, m.pairwise(y, x))  # symmetry
    assert (dxy >= 0).all()
    eigs = torch.linalg.eigvalsh(m.M)
    assert (eigs > -1e-5).all()  # M = L^T L is positive semi-definite


def test_mahalanobis_rejects_bad_rank() -> None:
    with pytest.raises(ValueError, match="rank"):
        MahalanobisDistance(4, rank=5)


def test_mlp_metric_is_symmetric_bounded_and_consistent() -> None:
    head = MLPMetric(8, hidden=16)
    x, y = torch.randn(5, 8), torch.randn(3, 8)
    mat = head.matrix(x, y, chunk=2)
    assert mat.shape == (5, 3) and ((mat > 0) & (mat < 1)).all()
    for i in range(5):
        torch.testing.assert_close(mat[i], head.pairwise(x[i].expand(3, 8), y))
    torch.testing.assert_close(head.pairwise(x[:3], y), head.pairwise(y, x[:3]))
    torch.testing.assert_close(head.pairwise(x[:3], y), torch.sigmoid(-head.logits(x[:3], y)))


def test_mlp_metric_learns_to_separate_pairs_with_bce() -> None:
    torch.manual_seed(0)
    head = MLPMetric(4, hidden=16)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    a = torch.randn(256, 4)
    same = torch.rand(256) < 0.5
    b = torch.where(same[:, None], a + 0.05 * torch.randn(256, 4), torch.randn(256, 4))
    for _ in range(150):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head.logits(a, b), same.float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    d = head.pairwise(a, b).detach()
    assert d[same].mean() < 0.2 < 0.8 < d[~same].mean()
