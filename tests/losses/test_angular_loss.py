"""Angular loss (Wang et al., 2017) against a naive loop of the paper's eq. 8 and against
pytorch-metric-learning's AngularLoss, in value and gradients; and as a run's ``loss.kind``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains

from siamkit.losses import AngularLoss
from siamkit.types import Pairs

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")


def _batch(seed: int, b: int = 24, d: int = 8, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g), torch.randint(0, classes, (b,), generator=g)


def naive_angular(z, labels, alpha_degrees):
    """Mean over positive pairs (a, p) of log(1 + sum_n exp(4 tan^2 a (x_a + x_p).x_n
    - 2 (1 + tan^2 a) x_a.x_p)), n over the other classes, on unit vectors."""
    z = F.normalize(z, dim=1)
    t = math.tan(math.radians(alpha_degrees)) ** 2
    terms = []
    for a in range(len(labels)):
        for p in range(len(labels)):
            if p == a or labels[p] != labels[a]:
                continue
            s = sum(
                math.exp(4 * t * float((z[a] + z[p]) @ z[n]) - 2 * (1 + t) * float(z[a] @ z[p]))
                for n in range(len(labels))
                if labels[n] != labels[a]
            )
            terms.append(math.log(1 + s))
    return sum(terms) / len(terms)


def test_angular_matches_a_naive_loop() -> None:
    z, labels = _batch(0, b=9, d=3, classes=3)
    got = AngularLoss(alpha=45)(z, labels)
    assert float(got) == pytest.approx(naive_angular(z, labels.tolist(), 45), rel=1e-5)


def _grads(loss_fn, z, labels, indices=None):
    """Through an L2 normalisation (PML normalises anchors and positives, not the negatives)."""
    z = z.clone().requires_grad_(True)
    zn = F.normalize(z, dim=1)
    value = loss_fn(zn, labels) if indices is None else loss_fn(zn, labels, indices)
    (gz,) = torch.autograd.grad(value, [z])
    return float(value.detach()), gz


@pytest.mark.parametrize("alpha", [36.0, 50.0])
@pytest.mark.parametrize("mined", [False, True])
def test_angular_equals_pml_in_value_and_gradients(alpha: float, mined: bool) -> None:
    z, labels = _batch(1)
    ours, peer = AngularLoss(alpha=alpha), pml_losses.AngularLoss(alpha=alpha)
    peer_idx = (
        pml_miners.MultiSimilarityMiner(0.1)(F.normalize(z, dim=1), labels) if mined else None
    )
    our_idx = None
    if peer_idx is not None:
        a1, p, a2, n = peer_idx
        same = torch.cat(
            [torch.ones_like(a1, dtype=torch.bool), torch.zeros_like(a2, dtype=torch.bool)]
        )
        our_idx = Pairs(torch.cat([a1, a2]), torch.cat([p, n]), same)
    got, got_z = _grads(ours, z, labels, our_idx)
    want, want_z = _grads(peer, z, labels, peer_idx)
    assert got == pytest.approx(want, rel=1e-5)
    assert float((got_z - want_z).abs().max()) <= 1e-5 * float(want_z.abs().max())


def test_angular_gives_finite_nonzero_gradients_and_checks_alpha() -> None:
    z, labels = _batch(2)
    z.requires_grad_(True)
    AngularLoss()(z, labels).backward()
    assert z.grad is not None and bool(torch.isfinite(z.grad).all())
    assert float(z.grad.abs().sum()) > 0
    x = torch.randn(3, 4, requires_grad=True)
    out = AngularLoss()(x, torch.tensor([0, 1, 2]))  # no positive pair
    assert float(out.detach()) == 0.0 and out.requires_grad
    with pytest.raises(ValueError, match="alpha must be an angle in degrees"):
        AngularLoss(alpha=95)


def test_a_run_config_builds_and_trains_angular() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    cfg = config_from_dict({"loss": {"kind": "angular", "params": {"alpha": 45}}})
    loss = build_objective(cfg.loss, "euclidean")
    assert isinstance(loss, AngularLoss) and loss.alpha == 45.0
    trains(["loss.kind=angular", "loss.mining=null"])
