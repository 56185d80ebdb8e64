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


def test_the_accelerator_path_takes_the_close_pairs_from_their_difference() -> None:
    """On an accelerator (no float64 product there, or a slow one) the close pairs are computed
    again from their rows: this runs that path on the CPU."""
    x, y = close_rows(seed=2)
    nx, ny = x.pow(2).sum(1, keepdim=True), y.pow(2).sum(1).unsqueeze(0)
    sq = (nx + ny - 2.0 * (x @ y.T)).clamp_min(0)
    F._close_from_differences(sq, x, y, sq < (nx + ny) * F.CLOSE_SHARE)
    assert float(np.abs(sq.sqrt().numpy() - reference(x, y, "euclidean")).max()) < 1e-6
    same = torch.arange(0, len(x), 3)
    assert sq[same, same].max().item() == 0.0


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
