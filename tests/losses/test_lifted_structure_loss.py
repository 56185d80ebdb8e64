"""Generalized lifted structure loss against a naive loop of the formula (Hermans et al. 2017,
p. 4) and against pytorch-metric-learning's GeneralizedLiftedStructureLoss; and as a run's
``loss.kind``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains
from _pml import assert_finite_nonzero, assert_same_as_peer, batch, ms_pairs, value_and_grads

from siamkit.losses import GeneralizedLiftedStructureLoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


def naive_lifted(z, labels, neg_margin, pos_margin):
    """Mean over anchors of [log sum_p exp(D(a,p) - pos_m) + log sum_n exp(neg_m - D(a,n))]_+."""
    b, total = len(labels), 0.0
    for a in range(b):
        d = [float((z[a] - z[j]).norm()) for j in range(b)]
        ps = [math.exp(d[j] - pos_margin) for j in range(b) if j != a and labels[j] == labels[a]]
        ns = [math.exp(neg_margin - d[j]) for j in range(b) if labels[j] != labels[a]]
        total += max(0.0, math.log(sum(ps)) + math.log(sum(ns)))
    return total / b


def test_lifted_structure_matches_a_naive_loop() -> None:
    z = F.normalize(batch(0, b=8, d=3)[0], dim=1)
    labels = [0, 0, 1, 1, 1, 2, 2, 0]  # every anchor has a positive and a negative
    got = GeneralizedLiftedStructureLoss(neg_margin=1.2, pos_margin=0.1)(z, torch.tensor(labels))
    assert float(got) == pytest.approx(naive_lifted(z, labels, 1.2, 0.1), rel=1e-5)


@pytest.mark.parametrize("mined", [False, True])
def test_lifted_structure_equals_pml_in_value_and_gradients(mined: bool) -> None:
    z, labels = batch(1)
    ours = GeneralizedLiftedStructureLoss(neg_margin=0.9, pos_margin=0.2)
    peer = pml_losses.GeneralizedLiftedStructureLoss(neg_margin=0.9, pos_margin=0.2)
    peer_idx, our_idx = ms_pairs(F.normalize(z, dim=1), labels) if mined else (None, None)
    # through an L2 normalisation (PML's LpDistance normalises; siamkit's models' heads do)
    got, got_z = value_and_grads(ours, z, labels, our_idx)
    want, want_z = value_and_grads(peer, z, labels, peer_idx)
    assert_same_as_peer(got, got_z, want, want_z)


def test_lifted_structure_gives_finite_nonzero_gradients() -> None:
    z, labels = batch(2)
    z.requires_grad_(True)
    GeneralizedLiftedStructureLoss()(F.normalize(z, dim=1), labels).backward()
    assert_finite_nonzero(z.grad)


def test_a_run_config_builds_and_trains_lifted_structure() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    params = {"neg_margin": 0.8, "pos_margin": 0.1}
    cfg = config_from_dict({"loss": {"kind": "lifted_structure", "params": params}})
    loss = build_objective(cfg.loss, "cosine")
    assert isinstance(loss, GeneralizedLiftedStructureLoss)
    assert (loss.neg_margin, loss.pos_margin, loss.distance.name) == (0.8, 0.1, "cosine")
    trains(["loss.kind=lifted_structure", "loss.mining=null"])
