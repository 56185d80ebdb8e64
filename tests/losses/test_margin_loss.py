"""Margin loss (Wu et al., 2017) against a naive loop of the paper's formula and against
pytorch-metric-learning's MarginLoss, in value and gradients; and as a run's ``loss.kind``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains
from _pml import assert_finite_nonzero, assert_same_as_peer, batch, ms_pairs, value_and_grads

from siamkit.losses.margin import MarginLoss, margin_loss
from siamkit.miners import DistanceWeightedMiner
from siamkit.types import Triplets

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


def _batch(seed: int, **size: int) -> tuple[torch.Tensor, torch.Tensor]:
    z, labels = batch(seed, **size)
    return F.normalize(z, dim=1), labels


def naive_margin(z, labels, beta, margin, nu, per_class):
    """Every triplet (a, p, n): relu(D(a,p) - beta + m) + relu(beta - D(a,n) + m), summed and
    divided by the number of non-zero terms; plus nu * beta (per triplet when per class)."""
    total, count, reg, b = 0.0, 0, 0.0, len(labels)
    for a in range(b):
        bt = beta[labels[a]] if per_class else beta
        for p in range(b):
            if p == a or labels[p] != labels[a]:
                continue
            for n in range(b):
                if labels[n] == labels[a]:
                    continue
                pos = max(0.0, float((z[a] - z[p]).norm()) - bt + margin)
                neg = max(0.0, bt - float((z[a] - z[n]).norm()) + margin)
                total, count = total + pos + neg, count + (pos > 0) + (neg > 0)
                reg += nu * bt
    loss = total / count if count else 0.0
    return loss + (reg / count if count else 0.0) if per_class else loss + nu * beta


@pytest.mark.parametrize("per_class", [False, True])
def test_margin_loss_matches_a_naive_loop(per_class: bool) -> None:
    z, labels = _batch(0, b=9, d=3, classes=3)
    beta = [0.9, 1.1, 1.3] if per_class else 1.1
    loss = MarginLoss(0.2, 1.0, 0.1, per_class_beta=per_class, classes=[0, 1, 2])
    with torch.no_grad():
        loss.beta.copy_(torch.tensor(beta))
    want = naive_margin(z, labels.tolist(), beta, 0.2, 0.1, per_class)
    assert float(loss(z, labels).detach()) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize("given", ["all", "triplets", "pairs"])
def test_margin_loss_equals_pml_in_value_and_gradients(per_class: bool, given: str) -> None:
    """The same beta(s), on all triplets, on distance-weighted triplets and on mined pairs:
    the loss and its gradients with respect to the embeddings and beta agree to 1e-5."""
    z, labels = _batch(1)
    ours = MarginLoss(0.2, 1.2, nu=0.1, per_class_beta=per_class, classes=range(5))
    peer = pml_losses.MarginLoss(
        margin=0.2, beta=1.2, nu=0.1, learn_beta=True, num_classes=5 if per_class else None
    )
    with torch.no_grad():
        ours.beta.copy_(torch.linspace(0.9, 1.3, 5) if per_class else torch.tensor(1.1))
        peer.beta.copy_(ours.beta.reshape(peer.beta.shape))
    g = torch.Generator().manual_seed(0)
    mine = {"all": None, "triplets": DistanceWeightedMiner(generator=g)}
    if given == "pairs":
        peer_idx, our_idx = ms_pairs(z, labels)
    else:
        miner = mine[given]
        our_idx = None if miner is None else miner(z, labels)
        peer_idx = None if our_idx is None else tuple(our_idx)
    # through an L2 normalisation (PML's LpDistance normalises inside; siamkit's models in their
    # head)
    got, got_z, got_b = value_and_grads(ours, z, labels, our_idx, params=[ours.beta])
    want, want_z, want_b = value_and_grads(peer, z, labels, peer_idx, params=[peer.beta])
    assert_same_as_peer(got, got_z, want, want_z)
    assert torch.allclose(got_b, want_b.reshape(got_b.shape), rtol=1e-5, atol=1e-7)


def test_margin_loss_gives_finite_nonzero_gradients_to_embeddings_and_beta() -> None:
    z, labels = _batch(2)
    z.requires_grad_(True)
    loss = MarginLoss(per_class_beta=True, classes=range(5), mining="distance_weighted")
    loss(z, labels).backward()
    assert_finite_nonzero(z.grad, loss.beta.grad)


def test_no_triplets_give_zero_with_a_gradient_and_bad_settings_are_named() -> None:
    z = torch.randn(3, 4, requires_grad=True)
    out = MarginLoss()(z, torch.tensor([0, 1, 2]))  # no positive pair
    assert float(out.detach()) == 0.0 and out.requires_grad
    empty = torch.empty(0, dtype=torch.long)
    assert (
        float(MarginLoss()(z, torch.tensor([0, 0, 1]), Triplets(empty, empty, empty)).detach())
        == 0.0
    )
    assert float(margin_loss(torch.tensor([0.5]), torch.tensor([2.0]), 1.2)) == 0.0
    with pytest.raises(ValueError, match="per_class_beta needs the training classes"):
        MarginLoss(per_class_beta=True)
    with pytest.raises(ValueError, match="label 7 has no beta"):
        MarginLoss(per_class_beta=True, classes=[0, 1])(z, torch.tensor([0, 7, 1]))


def test_a_fixed_beta_is_a_buffer_and_is_not_regularised() -> None:
    z, labels = _batch(3)
    fixed = MarginLoss(beta=1.2, nu=0.5, learn_beta=False)
    assert list(fixed.parameters()) == []
    peer = pml_losses.MarginLoss(margin=0.2, beta=1.2, nu=0.5, learn_beta=False)
    assert float(fixed(z, labels)) == pytest.approx(float(peer(z, labels)), rel=1e-5)


def test_a_run_config_builds_margin_loss_with_its_parameters() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    params = {"beta": 1.0, "nu": 0.1, "per_class_beta": True}
    cfg = config_from_dict({"loss": {"kind": "margin", "margin": 0.1, "params": params}})
    loss = build_objective(cfg.loss, "euclidean", classes=[3, 5, 7], embedding_dim=4)
    assert isinstance(loss, MarginLoss) and (loss.margin, loss.nu) == (0.1, 0.1)
    assert loss.beta.tolist() == [1.0, 1.0, 1.0]
    assert loss.mining == "distance_weighted"  # mining: auto is the paper's sampling
    glob = build_objective(config_from_dict({"loss": {"kind": "margin"}}).loss, "euclidean")
    assert glob.beta.shape == () and glob.learn_beta


def test_loss_kind_margin_trains_the_network_and_its_betas() -> None:
    """1 short epoch through Trainer.from_config: encoder weights and per-class betas move."""
    trainer = trains(["loss.kind=margin", "loss.params={per_class_beta: true}"])
    assert trainer.objective.beta.shape == (6,)
