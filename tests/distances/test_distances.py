"""Distances against naive per-pair loops, in float32 and float64, with finite gradients at zero."""

from __future__ import annotations

import math

import pytest
import torch

from siamkit.distances import get_distance, list_distances, safe_sqrt


def naive(name: str, a: list[float], b: list[float]) -> float:
    if name == "euclidean":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
    if name == "sqeuclidean":
        return sum((x - y) ** 2 for x, y in zip(a, b))
    if name == "manhattan":
        return sum(abs(x - y) for x, y in zip(a, b))
    if name == "cosine":
        dot = sum(x * y for x, y in zip(a, b))
        na = math.sqrt(sum(x * x for x in a))
        nb = math.sqrt(sum(y * y for y in b))
        return 1.0 - dot / (na * nb)
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["euclidean", "sqeuclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matrix_and_pairwise_match_naive_loops(name: str, dtype: torch.dtype) -> None:
    x, y = torch.randn(7, 5, dtype=dtype), torch.randn(4, 5, dtype=dtype)
    dist = get_distance(name)
    mat = dist.matrix(x, y)
    assert mat.shape == (7, 4) and mat.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for i in range(7):
        for j in range(4):
            assert mat[i, j].item() == pytest.approx(
                naive(name, x[i].tolist(), y[j].tolist()), abs=tol, rel=tol
            )
    pw = dist.pairwise(x[:4], y)
    assert pw.shape == (4,)
    torch.testing.assert_close(pw, mat[torch.arange(4), torch.arange(4)], atol=tol, rtol=tol)


@pytest.mark.parametrize("name", list_distances())
def test_identical_points_give_zero_distance_and_finite_gradients(name: str) -> None:
    x = torch.randn(6, 8, requires_grad=True)
    dist = get_distance(name)
    mat = dist.matrix(x, x)
    pw = dist.pairwise(x, x.clone())
    assert torch.allclose(mat.diagonal(), torch.zeros(6), atol=1e-5)
    assert torch.allclose(pw, torch.zeros(6), atol=1e-5)
    (mat.sum() + pw.sum()).backward()
    assert torch.isfinite(x.grad).all()


def test_cosine_distance_never_rounds_below_zero_or_above_two() -> None:
    x = torch.randn(2000, 384, generator=torch.Generator().manual_seed(0))
    cos = get_distance("cosine")
    with torch.no_grad():
        naive = 1.0 - torch.nn.functional.cosine_similarity(x, x.clone())
        assert (naive < 0).any()  # the rounding this guards against happens for these rows
        same = [cos.pairwise(x, x.clone()), cos.matrix(x[:300], x[:300]).diagonal()]
        opposite = [cos.pairwise(x, -x), cos.matrix(x[:300], -x[:300]).diagonal()]
    assert all(bool((d >= 0).all()) and float(d.max()) < 1e-6 for d in same)
    assert all(bool((d <= 2).all()) and float(d.min()) > 2 - 1e-6 for d in opposite)


def test_cosine_distance_keeps_the_gradient_of_one_minus_cos_where_it_is_held() -> None:
    g = torch.Generator().manual_seed(1)
    base = torch.randn(2000, 64, generator=g, dtype=torch.float32)
    y = base + 1e-4 * torch.randn(2000, 64, generator=g)  # near-coincident: some round below 0
    x = base.clone().requires_grad_()
    d = get_distance("cosine").pairwise(x, y)
    assert (d >= 0).all()
    d.sum().backward()
    x2 = base.clone().requires_grad_()
    (1.0 - torch.nn.functional.cosine_similarity(x2, y, eps=1e-8)).sum().backward()
    held = (1.0 - torch.nn.functional.cosine_similarity(base, y)) < 0
    assert held.any()  # rows whose value was held at 0 ...
    assert x.grad[held].abs().sum() > 0  # ... still have the gradient of 1 - cos
    torch.testing.assert_close(x.grad, x2.grad, atol=1e-4, rtol=1e-3)


def test_euclidean_gradient_matches_autograd_of_naive_form_away_from_zero() -> None:
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(5, 3, dtype=torch.float64)
    get_distance("euclidean").pairwise(x, y).sum().backward()
    expected = (x - y) / (x - y).norm(dim=1, keepdim=True)
    torch.testing.assert_close(x.grad, expected.detach())


def test_safe_sqrt_is_exact_and_finite_at_zero() -> None:
    sq = torch.tensor([0.0, 4.0, -1e-9], requires_grad=True)
    out = safe_sqrt(sq)
    assert out.tolist() == [0.0, 2.0, 0.0]
    out.sum().backward()
    assert sq.grad.tolist() == [0.0, 0.25, 0.0]


def test_safe_sqrt_without_gradient_gives_the_same_values_bitwise() -> None:
    g = torch.Generator().manual_seed(0)
    sq = torch.randn(200, 50, generator=g, dtype=torch.float64).mul(3).clamp_min(-0.5)
    sq[0, :5] = torch.tensor([0.0, -0.0, float("nan"), float("inf"), 1e-300], dtype=sq.dtype)
    for t in (sq, sq.float()):
        fast = safe_sqrt(t)  # no gradient: the short path
        guarded = safe_sqrt(t.clone().requires_grad_()).detach()
        assert torch.equal(fast.isnan(), guarded.isnan())
        ok = ~fast.isnan()
        bits = torch.int64 if t.dtype == torch.float64 else torch.int32
        assert torch.equal(fast[ok].view(bits), guarded[ok].view(bits))  # -0.0 and all
        assert (t < 0).any()  # the input itself is left alone (not clamped in place)
    x, y = torch.randn(30, 8, generator=g), torch.randn(40, 8, generator=g)
    naive = ((x[:, None] - y[None]) ** 2).sum(-1).sqrt()
    torch.testing.assert_close(get_distance("euclidean").matrix(x, y), naive)


def test_unknown_name_and_bad_shapes_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown distance 'hamming'"):
        get_distance("hamming")
    with pytest.raises(ValueError, match="embedding sizes differ"):
        get_distance("euclidean").matrix(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="same number of rows"):
        get_distance("cosine").pairwise(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="2-D"):
        get_distance("euclidean").matrix(torch.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError):
        get_distance(3)  # type: ignore[arg-type]
