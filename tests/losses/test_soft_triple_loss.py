"""SoftTriple against a naive loop of the paper's eq. 9 and 11 and against
pytorch-metric-learning's SoftTripleLoss (no centre-merging term); and as a run's ``loss.kind``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains
from _pml import (
    assert_finite_nonzero,
    assert_grads_close,
    assert_same_as_peer,
    batch,
    value_and_grads,
)

from siamkit.losses import SoftTripleLoss, soft_triple_loss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


def naive_soft_triple(z, t, centers, k, la, gamma, margin, tau):
    z, w = F.normalize(z, dim=1), F.normalize(centers, dim=1)
    n_classes, total = w.shape[0] // k, 0.0
    for i in range(z.shape[0]):
        sims = []
        for c in range(n_classes):
            s = [float(z[i] @ w[c * k + j]) for j in range(k)]
            e = [math.exp(v / gamma) for v in s]
            sims.append(sum(ej * v for ej, v in zip(e, s, strict=True)) / sum(e))
        logits = [la * (v - (margin if c == int(t[i]) else 0.0)) for c, v in enumerate(sims)]
        total += -logits[int(t[i])] + math.log(sum(math.exp(v) for v in logits))
    reg = 0.0
    for c in range(n_classes):
        for a in range(k):
            for b in range(a + 1, k):
                reg += math.sqrt(2 + 1e-5 - 2 * float(w[c * k + a] @ w[c * k + b]))
    return total / z.shape[0] + tau * reg / (n_classes * k * (k - 1))


def test_soft_triple_matches_a_naive_loop_with_the_centre_merging_term() -> None:
    g = torch.Generator().manual_seed(0)
    z, centers = torch.randn(7, 3, generator=g), torch.randn(3 * 4, 3, generator=g)
    t = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    got = soft_triple_loss(z, t, centers, 4, la=5.0, gamma=0.2, margin=0.05, tau=0.3)
    want = naive_soft_triple(z, t, centers, 4, 5.0, 0.2, 0.05, 0.3)
    assert float(got) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("k", [1, 3])
def test_soft_triple_equals_pml_in_value_and_gradients(k: int) -> None:
    z, labels = batch(1)
    ours = SoftTripleLoss(range(5), 8, centers_per_class=k, la=20, gamma=0.1, margin=0.01, tau=0)
    peer = pml_losses.SoftTripleLoss(5, 8, centers_per_class=k, la=20, gamma=0.1, margin=0.01)
    with torch.no_grad():
        peer.fc.copy_(ours.proxies.T)  # PML's fc is (D, C * K), column c * K + j
    got, got_z, got_w = value_and_grads(ours, z, labels, normalize=False, params=[ours.proxies])
    want, want_z, want_w = value_and_grads(peer, z, labels, normalize=False, params=[peer.fc])
    assert_same_as_peer(got, got_z, want, want_z)
    assert_grads_close(got_w, want_w.T)


def test_soft_triple_gives_finite_nonzero_gradients_and_checks_its_settings() -> None:
    z = torch.randn(6, 4, requires_grad=True)
    loss = SoftTripleLoss(classes=[2, 5, 7], embedding_dim=4, centers_per_class=3)
    assert loss.proxies.shape == (9, 4)
    loss(z, torch.tensor([2, 2, 5, 5, 7, 7])).backward()
    assert_finite_nonzero(z.grad, loss.proxies.grad)
    with pytest.raises(ValueError, match="centers_per_class must be a whole number >= 1"):
        SoftTripleLoss(classes=[0, 1], embedding_dim=4, centers_per_class=0)
    with pytest.raises(ValueError, match=r"centers must be \(C \* K, D\)"):
        soft_triple_loss(torch.randn(2, 4), torch.tensor([0, 1]), torch.randn(5, 4), 2)


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        (
            "centers_per_class",
            0,
            "centers_per_class must be a whole number >= 1 (the paper's 10), got 0.",
        ),
        ("la", 0.0, "la must be a finite number > 0 (the paper's 20), got 0.0."),
        ("gamma", -0.1, "gamma must be a finite number > 0 (the paper's 0.1), got -0.1."),
        ("tau", -0.2, "tau must be a finite number >= 0 (the paper's 0.2), got -0.2."),
    ],
)
def test_soft_triple_refusal_names_only_the_wrong_setting(setting, value, words) -> None:
    with pytest.raises(ValueError) as refused:
        SoftTripleLoss(classes=[0, 1], embedding_dim=4, **{setting: value})
    assert str(refused.value) == words
    others = {"centers_per_class", "la", "gamma", "tau"} - {setting}
    assert not any(f"{other} " in str(refused.value) for other in others)


def test_a_run_config_builds_and_trains_soft_triple() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict
    from siamkit.training.preflight import needs_positives

    params = {"centers_per_class": 2, "la": 10, "tau": 0.1}
    cfg = config_from_dict({"loss": {"kind": "soft_triple", "params": params}})
    loss = build_objective(cfg.loss, cfg.model.distance, classes=[1, 4, 6], embedding_dim=5)
    assert isinstance(loss, SoftTripleLoss) and loss.proxies.shape == (6, 5)
    assert (loss.la, loss.tau) == (10.0, 0.1)
    assert not needs_positives("soft_triple")
    trainer = trains(
        ["loss.kind=soft_triple", "loss.mining=null", "loss.params={centers_per_class: 2}"]
    )
    assert trainer.objective.proxies.shape == (6 * 2, 16)
