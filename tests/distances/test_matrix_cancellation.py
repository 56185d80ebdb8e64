"""The Euclidean matrices near 0, where ``|x|^2 + |y|^2 - 2 x.y`` cancels in float32, against a
float64 loop of ``|x - y|`` and against the pairwise distance that 1:1 verification uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.distances import functional as F
from siamkit.distances import get_distance


def close_rows(n: int = 120, dim: int = 128, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-norm rows ``x`` and ``y``: ``y`` repeats each row of ``x``, a third exactly, the
    rest moved by 1e-6 to 0.3 (an image and its near-copies)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    step = rng.standard_normal((n, dim)) / np.sqrt(dim) * 10.0 ** rng.uniform(-6, -0.5, (n, 1))
    step[::3] = 0
    x32 = x.astype(np.float32)
    return torch.from_numpy(x32), torch.from_numpy((x32 + step).astype(np.float32))


def reference(x: torch.Tensor, y: torch.Tensor, name: str) -> np.ndarray:
    """Every pair's distance by a float64 loop over ``|x_i - y_j|``."""
    a, b = x.double().numpy(), y.double().numpy()
    out = np.empty((len(a), len(b)))
    for i in range(len(a)):
        sq = ((a[i] - b) ** 2).sum(1)
        out[i] = np.sqrt(sq) if name == "euclidean" else sq
    return out


@pytest.mark.parametrize("name", ["euclidean", "sqeuclidean"])
def test_identical_and_near_identical_rows_get_their_exact_distance_in_the_matrix(
    name: str,
) -> None:
    x, y = close_rows()
    with torch.no_grad():
        mat = get_distance(name).matrix(x, y).numpy()
        pairwise = get_distance(name).pairwise(x, y).numpy()  # siamkit verify's distance
    ref = reference(x, y, name)
    assert float(np.abs(mat - ref).max()) < 1e-6
    same = np.diagonal(mat)[::3]  # identical images: the float32 product put them ~1e-3 apart
    assert float(same.max()) < 1e-6
    assert float(np.abs(np.diagonal(mat) - pairwise).max()) < 1e-6


def test_an_identical_pair_stays_apart_by_rounding_only_at_larger_norms() -> None:
    x, y = close_rows(seed=1)
    x, y = 30.0 * x, 30.0 * y  # |x| = 30: float32 rounds such distances by ~1e-6 anyway
    with torch.no_grad():
        mat = get_distance("euclidean").matrix(x, y).numpy()
    assert float(np.abs(mat - reference(x, y, "euclidean")).max()) < 30 * 1e-6


def float32_product(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The float32 expansion the matrix took before the float64 product, squared."""
    nx, ny = x.pow(2).sum(1, keepdim=True), y.pow(2).sum(1).unsqueeze(0)
    sq = (nx + ny - 2.0 * (x @ y.T)).clamp_min(0)
    return sq * (1 - torch.eye(len(x))) if x is y else sq


@pytest.mark.parametrize("float64_there", [True, False])
def test_the_public_matrix_takes_the_product_the_device_allows(
    float64_there: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both branches of the device decision, run on the CPU through the named distance: where
    float64 exists the exact product, where not (MPS) the float32 one."""
    monkeypatch.setattr(F, "float64_product_on", lambda device: float64_there)
    x, y = close_rows(seed=2)
    with torch.no_grad():
        mat = get_distance("euclidean").matrix(x, y)
    if float64_there:
        assert float(np.abs(mat.numpy() - reference(x, y, "euclidean")).max()) < 1e-6
        assert mat.diagonal()[::3].max().item() < 1e-6  # identical rows
    else:
        assert torch.equal(mat, float32_product(x, y).sqrt())
        assert mat.diagonal()[::3].max().item() > 1e-5  # the float32 product's rounding


def test_mps_keeps_the_float32_product_and_cuda_takes_float64() -> None:
    assert F.float64_product_on(torch.device("cpu"))
    assert F.float64_product_on(torch.device("cuda"))
    assert not F.float64_product_on(torch.device("mps"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_matrix_on_a_gpu_gives_the_exact_distance_of_close_rows() -> None:
    x, y = close_rows(seed=3)
    with torch.no_grad():
        mat = get_distance("euclidean").matrix(x.cuda(), y.cuda()).cpu().numpy()
    assert float(np.abs(mat - reference(x, y, "euclidean")).max()) < 1e-6


def test_training_keeps_the_product_and_its_gradient() -> None:
    """Under autograd the matrix is the float32 product as before (its rounding moves no loss),
    with finite gradients where rows coincide."""
    x, y = close_rows(n=30, seed=4)
    xg = x.clone().requires_grad_()
    mat = get_distance("euclidean").matrix(xg, y)
    mat.sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()
    nx, ny = x.pow(2).sum(1, keepdim=True), y.pow(2).sum(1).unsqueeze(0)
    product = (nx + ny - 2.0 * (x @ y.T)).clamp_min(0).sqrt()
    assert torch.equal(mat.detach(), product)
