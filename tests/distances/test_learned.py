"""Learned metrics: Mahalanobis against the explicit quadratic form, the MLP head's symmetry and range."""

from __future__ import annotations

from contextlib import AbstractContextManager

import pytest
import torch
from scipy.spatial.distance import mahalanobis
from torch.profiler import ProfilerActivity, profile

import siamkit
from siamkit.distances import MahalanobisDistance, MLPMetric, get_distance, learned


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


def naive_mlp_matrix(head: MLPMetric, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Every pair through the head alone: a Python loop over ``(i, j)``."""
    out = torch.empty(x.shape[0], y.shape[0])
    with torch.no_grad():
        for i in range(x.shape[0]):
            for j in range(y.shape[0]):
                feats = (x[i] - y[j]).abs()
                if head.product_features:
                    feats = torch.cat([feats, x[i] * y[j]])
                out[i, j] = torch.sigmoid(-head.net(feats[None]))[0, 0]
    return out


@pytest.mark.parametrize("block_pairs", [None, 7, 130])  # one block; split columns; split rows
@pytest.mark.parametrize("product_features", [True, False])
@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_mlp_matrix_without_gradients_equals_a_loop_over_pairs(
    monkeypatch: pytest.MonkeyPatch,
    block_pairs: int | None,
    product_features: bool,
    context: type[AbstractContextManager[None]],
) -> None:
    gen = torch.Generator().manual_seed(block_pairs or 0)
    head = MLPMetric(6, hidden=9, product_features=product_features)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    x, y = torch.randn(41, 6, generator=gen), torch.randn(50, 6, generator=gen)
    if block_pairs is not None:
        width = 12 if product_features else 6
        monkeypatch.setattr(learned, "_BLOCK_FEATURES", block_pairs * width)
    with context():
        fast = head.matrix(x, y)
    assert not fast.requires_grad
    torch.testing.assert_close(fast, naive_mlp_matrix(head, x, y), rtol=0, atol=1e-6)
    slow = head.matrix(x, y, chunk=4)  # gradients enabled: the autograd path
    assert slow.requires_grad
    torch.testing.assert_close(fast, slow.detach(), rtol=0, atol=1e-6)


def test_mlp_matrix_without_gradients_needs_one_block_of_memory() -> None:
    """No (N x M x D) features: the largest allocation is one block of pairs (or the output),
    whatever N and M; scoring 300 x 300 pairs at once took 23 MB for 360 KB of distances."""
    head = MLPMetric(32, hidden=16)
    x, y = torch.randn(300, 32), torch.randn(300, 32)
    with (
        torch.inference_mode(),
        profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p,
    ):
        head.matrix(x, y)
    largest = max(e.cpu_memory_usage for e in p.events())
    assert largest <= 4 * max(learned._BLOCK_FEATURES, 300 * 300)


@pytest.mark.parametrize("grad", [False, True])
def test_mlp_metric_refuses_embeddings_of_another_size(grad: bool) -> None:
    """The no-grad block path wrote size-4 embeddings into size-8 feature slots and returned
    meaningless scores; every entry point names both sizes instead."""
    head = MLPMetric(8)
    x, y = torch.randn(3, 4), torch.randn(5, 4)
    with torch.set_grad_enabled(grad):
        with pytest.raises(ValueError, match="size 8, got size 4"):
            head.matrix(x, y)
        with pytest.raises(ValueError, match="size 8, got size 4"):
            head.pairwise(x, y[:3])


@pytest.mark.parametrize("grad", [False, True])
def test_mahalanobis_refuses_embeddings_of_another_size(grad: bool) -> None:
    """A SiameseNetwork of 16-d embeddings given MahalanobisDistance(8) failed at its first
    pair in torch's words ("mat1 and mat2 shapes cannot be multiplied (3x16 and 8x8)"); the
    distance names both sizes, as the MLP head does."""
    m = MahalanobisDistance(8)
    x, y = torch.randn(3, 16, requires_grad=grad), torch.randn(5, 16)
    with pytest.raises(ValueError, match="Mahalanobis distance takes embeddings of size 8, got"):
        m.matrix(x, y)
    with pytest.raises(ValueError, match="size 8, got size 16"):
        m.pairwise(x, y[:3])
    enc = siamkit.encoders.create_encoder("mlp", in_features=5, hidden=(8,))
    net = siamkit.SiameseNetwork(enc, 16, distance=m)
    with pytest.raises(ValueError, match="size 8, got size 16"):
        net(torch.randn(3, 5), torch.randn(3, 5))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("kind", ["mahalanobis", "mlp"])
def test_a_head_on_the_gpu_scores_cpu_embeddings_on_the_cpu(kind: str) -> None:
    """Validation scores CPU embeddings with the head of a network training on a GPU: on an H200
    every run with a learned distance failed at its first validation ("Expected all tensors to
    be on the same device")."""
    torch.manual_seed(0)
    head = MahalanobisDistance(8) if kind == "mahalanobis" else MLPMetric(8)
    with torch.no_grad():
        for p in head.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x, y = torch.randn(5, 8), torch.randn(7, 8)
    want_m, want_p = head.matrix(x, y), head.pairwise(x, y[:5])
    head.cuda()
    got_m, got_p = head.matrix(x, y), head.pairwise(x, y[:5])
    assert got_m.device.type == "cpu" and got_p.device.type == "cpu"
    torch.testing.assert_close(got_m, want_m, rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(got_p, want_p, rtol=1e-3, atol=1e-4)
    z = torch.randn(4, 8, device="cuda", requires_grad=True)  # training: all on the GPU
    head.pairwise(z, z.flip(0)).sum().backward()
    assert z.grad is not None and z.grad.device.type == "cuda"


@pytest.mark.parametrize("grad", [False, True])
def test_learned_distances_take_float64_embeddings(grad: bool) -> None:
    """Evaluation keeps NumPy's float64 embeddings float64; a float32 head refused them from
    deep inside torch ("expected m1 and m2 to have the same dtype"). They are scored in the
    head's float32 and answered in float64, equal to scipy's Mahalanobis and a loop over pairs."""
    gen = torch.Generator().manual_seed(3)
    maha, mlp = MahalanobisDistance(5), MLPMetric(5, hidden=7)
    with torch.no_grad():
        maha.L.copy_(torch.randn(5, 5, generator=gen))
    x = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    vi = maha.M.detach().double().numpy()
    want = torch.tensor([[mahalanobis(a, b, vi) for b in y.numpy()] for a in x.numpy()])
    xs = x.clone().requires_grad_(grad)
    for got, ref in ((maha.matrix(xs, y), want), (maha.pairwise(xs[:4], y), want.diagonal())):
        assert got.dtype == torch.float64
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    loop = naive_mlp_matrix(mlp, x.float(), y.float()).double()
    got = mlp.matrix(xs, y)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, loop, rtol=0, atol=1e-6)
    torch.testing.assert_close(mlp.pairwise(xs[:4], y), loop.diagonal(), rtol=0, atol=1e-6)
    if grad:
        (maha.pairwise(xs[:4], y).sum() + mlp.matrix(xs, y).sum()).backward()
        assert xs.grad is not None and xs.grad.dtype == torch.float64
        assert torch.isfinite(xs.grad).all() and xs.grad.abs().sum() > 0


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mahalanobis_matrix_of_a_batch_with_itself_is_zero_on_the_diagonal(
    squared: bool, dtype: torch.dtype
) -> None:
    """matrix(z, z) expanded |Lx|^2 + |Lx|^2 - 2 Lx.Lx, whose rounding put up to 3e-3 (after
    the square root) between a unit-length embedding and itself, where pairwise and the
    Euclidean matrix give 0; off the diagonal it is scipy's Mahalanobis distance."""
    gen = torch.Generator().manual_seed(4)
    m = MahalanobisDistance(32, squared=squared)
    with torch.no_grad():
        m.L.add_(0.5 * torch.randn(32, 32, generator=gen))
    z = torch.nn.functional.normalize(torch.randn(64, 32, generator=gen), dim=1).to(dtype)
    z.requires_grad_()
    d = m.matrix(z, z)
    assert torch.equal(d.diagonal(), torch.zeros(64, dtype=dtype))
    torch.testing.assert_close(m.pairwise(z, z), d.diagonal())
    vi = m.M.detach().double().numpy()
    zn = z.detach().double().numpy()
    want = torch.tensor([[mahalanobis(a, b, vi) for b in zn] for a in zn], dtype=dtype)
    torch.testing.assert_close(d.detach(), want.pow(2) if squared else want, rtol=1e-5, atol=1e-5)
    d.sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
