"""SimSiam, BYOL, VICReg and Barlow Twins losses against the papers' formulas written out naively, against
lightly's loss classes (loaded without torchvision), and NT-Xent against lightly's."""

from __future__ import annotations

import math

import pytest
import torch

from siamkit.applications.ssl.peer import lightly_modules
from siamkit.losses.functional import nt_xent_loss
from siamkit.losses.self_supervised import (
    barlow_twins_loss,
    byol_loss,
    negative_cosine,
    simsiam_loss,
    vicreg_loss,
)


def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a)) / math.sqrt(sum(y * y for y in b))


def test_simsiam_matches_the_paper_pseudocode() -> None:
    p1, p2, z1, z2 = (torch.randn(5, 3) for _ in range(4))
    naive = 0.0
    for i in range(5):  # D(p1, z2)/2 + D(p2, z1)/2, D = -cos, averaged over the batch
        naive += (
            -_cos(p1[i].tolist(), z2[i].tolist()) / 2 - _cos(p2[i].tolist(), z1[i].tolist()) / 2
        )
    assert float(simsiam_loss(p1, p2, z1, z2)) == pytest.approx(naive / 5, abs=1e-6)


def test_byol_matches_the_paper_formula() -> None:
    q1, q2, t1, t2 = (torch.randn(4, 6) for _ in range(4))
    naive = sum(
        (2 - 2 * _cos(q1[i].tolist(), t2[i].tolist()))
        + (2 - 2 * _cos(q2[i].tolist(), t1[i].tolist()))
        for i in range(4)
    )
    assert float(byol_loss(q1, q2, t1, t2)) == pytest.approx(naive / 4, abs=1e-5)


def test_stop_gradient_blocks_the_targets() -> None:
    p = torch.randn(4, 3, requires_grad=True)
    z = torch.randn(4, 3, requires_grad=True)
    negative_cosine(p, z).backward()
    assert p.grad is not None and p.grad.abs().sum() > 0
    assert z.grad is None


def test_vicreg_matches_a_naive_loop() -> None:
    z1, z2 = torch.randn(7, 4) * 0.5, torch.randn(7, 4)
    n, d = z1.shape

    def var_term(z: torch.Tensor) -> float:
        out = 0.0
        for j in range(d):
            col = z[:, j].tolist()
            mean = sum(col) / n
            var = sum((v - mean) ** 2 for v in col) / (n - 1)
            out += max(0.0, 1 - math.sqrt(var + 1e-4))
        return out / d

    def cov_term(z: torch.Tensor) -> float:
        means = [float(z[:, j].mean()) for j in range(d)]
        total = 0.0
        for a in range(d):
            for b in range(d):
                if a != b:
                    c = sum((z[i, a] - means[a]) * (z[i, b] - means[b]) for i in range(n)) / (n - 1)
                    total += float(c) ** 2
        return total / d

    mse = float(((z1 - z2) ** 2).mean())
    naive = 25 * mse + 25 * (var_term(z1) + var_term(z2)) / 2 + cov_term(z1) + cov_term(z2)
    assert float(vicreg_loss(z1, z2)) == pytest.approx(naive, rel=1e-5)


def test_vicreg_refuses_one_row() -> None:
    with pytest.raises(ValueError, match="at least 2 rows"):
        vicreg_loss(torch.randn(1, 3), torch.randn(1, 3))


def test_barlow_twins_matches_the_papers_formula_in_a_loop() -> None:
    """Eq. 2 of Zbontar et al. (2021): ``C_ij = sum_b a_bi b_bj / sqrt(sum_b a_bi**2) /
    sqrt(sum_b b_bj**2)`` over the batch-centred views, then ``sum_i (1 - C_ii)**2 + lambda *
    sum_{i != j} C_ij**2``. The loss adds BatchNorm's eps (1e-5) to the variance: with columns
    of variance ~100 its effect is ~1e-7."""
    gen = torch.Generator().manual_seed(0)
    z1 = torch.randn(6, 3, generator=gen, dtype=torch.float64) * 10
    z2 = z1 + torch.randn(6, 3, generator=gen, dtype=torch.float64) * 5
    n, d = z1.shape

    def centred(z: torch.Tensor) -> list[list[float]]:
        means = [sum(float(z[b, i]) for b in range(n)) / n for i in range(d)]
        return [[float(z[b, i]) - means[i] for i in range(d)] for b in range(n)]

    a, b = centred(z1), centred(z2)
    naive = 0.0
    for i in range(d):
        for j in range(d):
            num = sum(a[k][i] * b[k][j] for k in range(n))
            den = math.sqrt(sum(a[k][i] ** 2 for k in range(n))) * math.sqrt(
                sum(b[k][j] ** 2 for k in range(n))
            )
            c = num / den
            naive += (1 - c) ** 2 if i == j else 0.01 * c**2
    assert float(barlow_twins_loss(z1, z2, lambd=0.01)) == pytest.approx(naive, rel=1e-5)
    assert float(barlow_twins_loss(z1, z1, lambd=0.0)) == pytest.approx(0.0, abs=1e-6)


def test_barlow_twins_refuses_one_row_and_takes_the_papers_lambda() -> None:
    with pytest.raises(ValueError, match="at least 2 rows"):
        barlow_twins_loss(torch.randn(1, 3), torch.randn(1, 3))
    import inspect

    assert inspect.signature(barlow_twins_loss).parameters["lambd"].default == 5e-3


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="one shape"):
        simsiam_loss(torch.randn(3, 2), torch.randn(3, 2), torch.randn(3, 2), torch.randn(4, 2))


@pytest.fixture(scope="module")
def lightly() -> dict[str, object]:
    return lightly_modules()


def test_against_lightly_losses(lightly: dict[str, object]) -> None:
    a, b, c, d = (torch.randn(16, 8) for _ in range(4))
    ntx = lightly["NTXentLoss"](temperature=0.2)  # type: ignore[operator]
    assert float(nt_xent_loss(a, b, 0.2)) == pytest.approx(float(ntx(a, b)), abs=1e-5)
    neg = lightly["NegativeCosineSimilarity"]()  # type: ignore[operator]
    ref = 0.5 * (neg(a, b.detach()) + neg(c, d.detach()))
    assert float(simsiam_loss(a, c, d, b)) == pytest.approx(float(ref), abs=1e-6)
    vic = lightly["VICRegLoss"]()  # type: ignore[operator]
    assert float(vicreg_loss(a, b)) == pytest.approx(float(vic(a, b)), rel=1e-5)


@pytest.mark.parametrize(("n", "d", "lambd"), [(16, 8, 5e-3), (64, 32, 5e-3), (5, 3, 0.1)])
def test_barlow_twins_against_lightly(
    lightly: dict[str, object], n: int, d: int, lambd: float
) -> None:
    gen = torch.Generator().manual_seed(n)
    a = torch.randn(n, d, generator=gen).requires_grad_()
    b = torch.randn(n, d, generator=gen) * 3 + 1
    ref = lightly["BarlowTwinsLoss"](lambda_param=lambd)  # type: ignore[operator]
    ours, theirs = barlow_twins_loss(a, b, lambd), ref(a, b)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    (g_ours,), (g_theirs,) = torch.autograd.grad(ours, a), torch.autograd.grad(theirs, a)
    assert torch.allclose(g_ours, g_theirs, rtol=1e-4, atol=1e-5 * float(g_theirs.abs().max()))
    default = lightly["BarlowTwinsLoss"]()  # type: ignore[operator]
    assert barlow_twins_loss(a, b).item() == pytest.approx(default(a, b).item(), rel=1e-5)


def test_lightly_loader_can_be_called_twice(lightly: dict[str, object]) -> None:
    assert lightly_modules()["NTXentLoss"] is lightly["NTXentLoss"]
