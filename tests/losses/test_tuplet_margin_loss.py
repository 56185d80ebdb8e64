"""Tuplet margin loss (Yu & Tao, 2019) against a naive loop of the paper's eq. 6 and against
pytorch-metric-learning's TupletMarginLoss, in value and gradients; and as a run's
``loss.kind``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains

from siamkit.losses import TupletMarginLoss
from siamkit.types import Pairs

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")


def _batch(seed: int, b: int = 24, d: int = 8, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g), torch.randint(0, classes, (b,), generator=g)


def naive_tuplet(z, labels, margin, scale):
    """Mean over positive pairs (a, p) of log(1 + sum_n exp(s (cos an - cos(theta_ap - beta))))."""
    z = F.normalize(z, dim=1)
    terms = []
    for a in range(len(labels)):
        for p in range(len(labels)):
            if p == a or labels[p] != labels[a]:
                continue
            shrunk = math.cos(math.acos(float(z[a] @ z[p])) - margin)
            s = sum(
                math.exp(scale * (float(z[a] @ z[n]) - shrunk))
                for n in range(len(labels))
                if labels[n] != labels[a]
            )
            terms.append(math.log(1 + s))
    return sum(terms) / len(terms)


def test_tuplet_margin_matches_a_naive_loop() -> None:
    z, labels = _batch(0, b=9, d=3, classes=3)
    got = TupletMarginLoss(margin=0.2, scale=16)(z, labels)
    assert float(got) == pytest.approx(naive_tuplet(z, labels.tolist(), 0.2, 16), rel=1e-5)


def _grads(loss_fn, z, labels, indices=None):
    z = z.clone().requires_grad_(True)
    value = loss_fn(z, labels) if indices is None else loss_fn(z, labels, indices)
    (gz,) = torch.autograd.grad(value, [z])
    return float(value.detach()), gz


@pytest.mark.parametrize("margin", [0.1, 0.3])
@pytest.mark.parametrize("mined", [False, True])
def test_tuplet_margin_equals_pml_in_value_and_gradients(margin: float, mined: bool) -> None:
    """PML takes the margin in degrees; both normalise the embeddings inside."""
    z, labels = _batch(1)
    ours = TupletMarginLoss(margin=margin, scale=32)
    peer = pml_losses.TupletMarginLoss(margin=math.degrees(margin), scale=32)
    peer_idx = pml_miners.MultiSimilarityMiner(0.1)(z, labels) if mined else None
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


def test_tuplet_margin_gives_finite_gradients_even_for_identical_positives() -> None:
    z, labels = _batch(2)
    z = torch.cat([z, z[:1]])  # an exact duplicate: cos = 1, where acos has no derivative
    labels = torch.cat([labels, labels[:1]])
    z.requires_grad_(True)
    TupletMarginLoss()(z, labels).backward()
    assert z.grad is not None and bool(torch.isfinite(z.grad).all())
    assert float(z.grad.abs().sum()) > 0
    x = torch.randn(3, 4, requires_grad=True)
    out = TupletMarginLoss()(x, torch.tensor([0, 1, 2]))  # no positive pair
    assert float(out.detach()) == 0.0 and out.requires_grad
    with pytest.raises(ValueError, match=r"margin must be in \[0, pi/2\) radians"):
        TupletMarginLoss(margin=5.73)  # PML's degrees


def test_a_run_config_builds_and_trains_tuplet_margin() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    params = {"margin": 0.2, "scale": 32}
    cfg = config_from_dict({"loss": {"kind": "tuplet_margin", "params": params}})
    loss = build_objective(cfg.loss, "euclidean")
    assert isinstance(loss, TupletMarginLoss) and (loss.margin, loss.scale) == (0.2, 32.0)
    trains(["loss.kind=tuplet_margin", "loss.mining=null"])
