"""Angular loss (Wang et al., 2017) against a naive loop of the paper's eq. 8 and against
pytorch-metric-learning's AngularLoss, in value and gradients; and as a run's ``loss.kind``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains
from _pml import assert_finite_nonzero, assert_same_as_peer, batch, ms_pairs, value_and_grads

from siamkit.losses import AngularLoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


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
    z, labels = batch(0, b=9, d=3, classes=3)
    got = AngularLoss(alpha=45)(z, labels)
    assert float(got) == pytest.approx(naive_angular(z, labels.tolist(), 45), rel=1e-5)


@pytest.mark.parametrize("alpha", [36.0, 50.0])
@pytest.mark.parametrize("mined", [False, True])
def test_angular_equals_pml_in_value_and_gradients(alpha: float, mined: bool) -> None:
    z, labels = batch(1)
    ours, peer = AngularLoss(alpha=alpha), pml_losses.AngularLoss(alpha=alpha)
    peer_idx, our_idx = ms_pairs(F.normalize(z, dim=1), labels) if mined else (None, None)
    # through an L2 normalisation (PML normalises anchors and positives, not the negatives)
    got, got_z = value_and_grads(ours, z, labels, our_idx)
    want, want_z = value_and_grads(peer, z, labels, peer_idx)
    assert_same_as_peer(got, got_z, want, want_z)


def test_angular_gives_finite_nonzero_gradients_and_checks_alpha() -> None:
    z, labels = batch(2)
    z.requires_grad_(True)
    AngularLoss()(z, labels).backward()
    assert_finite_nonzero(z.grad)
    x = torch.randn(3, 4, requires_grad=True)
    out = AngularLoss()(x, torch.tensor([0, 1, 2]))  # no positive pair
    assert float(out.detach()) == 0.0 and out.requires_grad
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 90\) \(degrees"):
        AngularLoss(alpha=95)


def test_a_run_config_builds_and_trains_angular() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    cfg = config_from_dict({"loss": {"kind": "angular", "params": {"alpha": 45}}})
    loss = build_objective(cfg.loss, "euclidean")
    assert isinstance(loss, AngularLoss) and loss.alpha == 45.0
    trains(["loss.kind=angular", "loss.mining=null"])
