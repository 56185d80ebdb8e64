"""Circle loss against the paper's formula as a naive loop and against pytorch-metric-learning, in
value and in the gradient with respect to the embeddings."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from siamkit.losses import CircleLoss, circle_loss
from siamkit.types import Triplets

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


def naive_circle(
    z: torch.Tensor, labels: list[int], m: float, gamma: float, detach: bool = True
) -> torch.Tensor:
    """Sun et al. eq. 4/6 with the weights of eq. 5 held constant (``detach``), one anchor at a
    time, averaged over the anchors with a positive and a negative."""
    zn = F.normalize(z, dim=1)
    b, losses = len(labels), []
    for i in range(b):
        pos_sum, neg_sum, n_pos, n_neg = z.new_zeros(()), z.new_zeros(()), 0, 0
        for j in range(b):
            if j == i:
                continue
            s = zn[i] @ zn[j]
            w = s.detach() if detach else s
            if labels[j] == labels[i]:
                a_p = torch.relu(1 + m - w)
                pos_sum = pos_sum + torch.exp(-gamma * a_p * (s - (1 - m)))
                n_pos += 1
            else:
                a_n = torch.relu(w + m)
                neg_sum = neg_sum + torch.exp(gamma * a_n * (s - m))
                n_neg += 1
        if n_pos and n_neg:
            losses.append(torch.log(1 + neg_sum * pos_sum))
    return torch.stack(losses).mean() if losses else z.sum() * 0.0


def _batch(seed: int, b: int = 16, d: int = 8, classes: int = 5, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, d, generator=g, dtype=dtype)
    labels = torch.randint(0, classes, (b,), generator=g)
    return z, labels


def _value_and_grad(fn, z: torch.Tensor) -> tuple[float, torch.Tensor]:
    z = z.clone().requires_grad_(True)
    loss = fn(z)
    (grad,) = torch.autograd.grad(loss, z)
    return float(loss.detach()), grad


def _max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference relative to the largest entry (entries near 0 do not blow it up)."""
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("m, gamma", [(0.25, 4.0), (0.4, 10.0)])
def test_circle_loss_matches_the_papers_formula_in_float64(m: float, gamma: float) -> None:
    """Small gamma keeps exp() in the naive loop finite; the loop has no logsumexp trick."""
    z, labels = _batch(0, b=12, d=5, classes=4, dtype=torch.float64)
    labels[-1] = 9  # an anchor with no positive: left out of the mean
    want, want_grad = _value_and_grad(lambda x: naive_circle(x, labels.tolist(), m, gamma), z)
    got, got_grad = _value_and_grad(lambda x: circle_loss(x, labels, m, gamma), z)
    assert got == pytest.approx(want, rel=1e-12)
    assert torch.allclose(got_grad, want_grad, rtol=1e-10, atol=1e-12)
    # the loop without the detach (weights differentiated too) has another gradient
    _, undetached = _value_and_grad(
        lambda x: naive_circle(x, labels.tolist(), m, gamma, detach=False), z
    )
    assert _max_rel(undetached, want_grad) > 1e-2


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("m, gamma", [(0.25, 256.0), (0.4, 80.0)])
def test_circle_loss_equals_pml_in_value_and_gradient(seed: int, m: float, gamma: float) -> None:
    z, labels = _batch(seed)  # 16 items of 5 classes: repeated labels
    peer = pml_losses.CircleLoss(m=m, gamma=gamma)
    want, want_grad = _value_and_grad(lambda x: peer(x, labels), z)
    got, got_grad = _value_and_grad(lambda x: CircleLoss(m, gamma)(x, labels), z)
    assert got == pytest.approx(want, rel=1e-5)
    assert _max_rel(got_grad, want_grad) < 1e-5
    # the comparison can fail: another m moves the gradient far past the tolerance
    _, other_m = _value_and_grad(lambda x: CircleLoss(m + 0.05, gamma)(x, labels), z)
    assert _max_rel(other_m, want_grad) > 1e-2


def test_circle_loss_with_mined_triplets_equals_pml() -> None:
    z, labels = _batch(3)
    g = torch.Generator().manual_seed(3)
    a, p, n = (torch.randint(0, 16, (40,), generator=g) for _ in range(3))
    keep = (labels[a] == labels[p]) & (a != p) & (labels[a] != labels[n])
    a, p, n = a[keep], p[keep], n[keep]
    assert a.numel() > 3
    peer = pml_losses.CircleLoss(m=0.25, gamma=256)
    want, want_grad = _value_and_grad(lambda x: peer(x, labels, (a, p, n)), z)
    got, got_grad = _value_and_grad(lambda x: CircleLoss()(x, labels, Triplets(a, p, n)), z)
    assert got == pytest.approx(want, rel=1e-5)
    assert _max_rel(got_grad, want_grad) < 1e-5
    assert got != pytest.approx(float(CircleLoss()(z, labels)), rel=1e-3)  # the mining mattered


@pytest.mark.parametrize(
    "labels", [torch.arange(6), torch.zeros(6, dtype=torch.long)], ids=["no-pos", "no-neg"]
)
def test_a_batch_without_positive_or_negative_pairs_gives_zero_with_a_gradient(
    labels: torch.Tensor,
) -> None:
    z = torch.randn(6, 4, requires_grad=True)
    loss = CircleLoss()(z, labels)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))
    assert pml_losses.CircleLoss(m=0.25, gamma=256)(z, labels).item() == 0.0


def test_identical_points_stay_finite() -> None:
    z = torch.ones(8, 4, requires_grad=True)
    loss = CircleLoss()(z, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    # every cosine is 1: per anchor log(1 + 6 exp(gamma (1 + m)(1 - m)) exp(-gamma m^2))
    m, gamma = 0.25, 256.0
    expected = math.log(6) + gamma * ((1 + m) * (1 - m) - m * m)  # log1p of a huge number
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="gamma must be a finite number > 0"):
        CircleLoss(gamma=0)
    with pytest.raises(ValueError, match=r"m must be a number in \[0, 1\)"):
        CircleLoss(m=-0.1)


def test_training_with_circle_loss_brings_classes_together() -> None:
    """A few steps on free embeddings: the loss falls and every point's nearest neighbour is of
    its own class (fails if the gradient does not reach the embeddings or points the wrong way)."""
    torch.manual_seed(0)
    z = torch.nn.Parameter(torch.randn(24, 4))
    labels = torch.arange(4).repeat(6)
    loss_fn = CircleLoss(m=0.25, gamma=32.0)
    opt = torch.optim.SGD([z], lr=0.1)
    first = loss_fn(z, labels).item()
    for _ in range(40):
        loss = loss_fn(z, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_fn(z, labels).item() < 0.5 * first
    zn = F.normalize(z.detach(), dim=1)
    sim = (zn @ zn.T).fill_diagonal_(-2)
    assert bool((labels[sim.argmax(dim=1)] == labels).all())


def test_a_run_config_selects_circle_loss_with_its_parameters() -> None:
    """``loss: {kind: circle, params: {m, gamma}}`` builds this loss with those values."""
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    cfg = config_from_dict({"loss": {"kind": "circle", "params": {"m": 0.25, "gamma": 80}}})
    loss = build_objective(cfg.loss, cfg.model.distance)
    assert isinstance(loss, CircleLoss) and (loss.m, loss.gamma) == (0.25, 80.0)
    z, labels = _batch(4)
    want = pml_losses.CircleLoss(m=0.25, gamma=80)(z, labels)
    assert float(loss(z, labels)) == pytest.approx(float(want), rel=1e-5)
    with pytest.raises(ValueError, match=r"no parameter.*margin"):
        config_from_dict({"loss": {"kind": "circle", "params": {"margin": 0.25}}})
