"""Tuplet margin loss (Yu & Tao, 2019) against a naive loop of the paper's eq. 6 and against
pytorch-metric-learning's TupletMarginLoss, in value and gradients; and as a run's
``loss.kind``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains
from _pml import assert_finite_nonzero, assert_same_as_peer, batch, ms_pairs, value_and_grads

from siamkit.losses import TupletMarginLoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


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
    z, labels = batch(0, b=9, d=3, classes=3)
    got = TupletMarginLoss(margin=0.2, scale=16)(z, labels)
    assert float(got) == pytest.approx(naive_tuplet(z, labels.tolist(), 0.2, 16), rel=1e-5)


@pytest.mark.parametrize("margin", [0.1, 0.3])
@pytest.mark.parametrize("mined", [False, True])
def test_tuplet_margin_equals_pml_in_value_and_gradients(margin: float, mined: bool) -> None:
    """PML takes the margin in degrees; both normalise the embeddings inside."""
    z, labels = batch(1)
    ours = TupletMarginLoss(margin=margin, scale=32)
    peer = pml_losses.TupletMarginLoss(margin=math.degrees(margin), scale=32)
    peer_idx, our_idx = ms_pairs(z, labels) if mined else (None, None)
    got, got_z = value_and_grads(ours, z, labels, our_idx, normalize=False)
    want, want_z = value_and_grads(peer, z, labels, peer_idx, normalize=False)
    assert_same_as_peer(got, got_z, want, want_z)


def test_tuplet_margin_gives_finite_gradients_even_for_identical_positives() -> None:
    z, labels = batch(2)
    z = torch.cat([z, z[:1]])  # an exact duplicate: cos = 1, where acos has no derivative
    labels = torch.cat([labels, labels[:1]])
    z.requires_grad_(True)
    TupletMarginLoss()(z, labels).backward()
    assert_finite_nonzero(z.grad)
    x = torch.randn(3, 4, requires_grad=True)
    out = TupletMarginLoss()(x, torch.tensor([0, 1, 2]))  # no positive pair
    assert float(out.detach()) == 0.0 and out.requires_grad
    with pytest.raises(ValueError, match=r"margin must be a number in \[0, pi/2\) \(radians\)"):
        TupletMarginLoss(margin=5.73)  # PML's degrees


def test_a_run_config_builds_and_trains_tuplet_margin() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    params = {"margin": 0.2, "scale": 32}
    cfg = config_from_dict({"loss": {"kind": "tuplet_margin", "params": params}})
    loss = build_objective(cfg.loss, "euclidean")
    assert isinstance(loss, TupletMarginLoss) and (loss.margin, loss.scale) == (0.2, 32.0)
    trains(["loss.kind=tuplet_margin", "loss.mining=null"])
