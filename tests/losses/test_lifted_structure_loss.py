"""Generalized lifted structure loss against a naive loop of the formula (Hermans et al. 2017,
p. 4) and against pytorch-metric-learning's GeneralizedLiftedStructureLoss; and as a run's
``loss.kind``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains

from siamkit.losses import GeneralizedLiftedStructureLoss
from siamkit.types import Pairs

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")


def _batch(seed: int, b: int = 24, d: int = 8, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g), torch.randint(0, classes, (b,), generator=g)


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
    z = F.normalize(_batch(0, b=8, d=3)[0], dim=1)
    labels = [0, 0, 1, 1, 1, 2, 2, 0]  # every anchor has a positive and a negative
    got = GeneralizedLiftedStructureLoss(neg_margin=1.2, pos_margin=0.1)(z, torch.tensor(labels))
    assert float(got) == pytest.approx(naive_lifted(z, labels, 1.2, 0.1), rel=1e-5)


def _grads(loss_fn, z, labels, indices=None):
    """Through an L2 normalisation (PML's LpDistance normalises; siamkit's models' heads do)."""
    z = z.clone().requires_grad_(True)
    zn = F.normalize(z, dim=1)
    value = loss_fn(zn, labels) if indices is None else loss_fn(zn, labels, indices)
    (gz,) = torch.autograd.grad(value, [z])
    return float(value.detach()), gz


@pytest.mark.parametrize("mined", [False, True])
def test_lifted_structure_equals_pml_in_value_and_gradients(mined: bool) -> None:
    z, labels = _batch(1)
    ours = GeneralizedLiftedStructureLoss(neg_margin=0.9, pos_margin=0.2)
    peer = pml_losses.GeneralizedLiftedStructureLoss(neg_margin=0.9, pos_margin=0.2)
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


def test_lifted_structure_gives_finite_nonzero_gradients() -> None:
    z, labels = _batch(2)
    z.requires_grad_(True)
    GeneralizedLiftedStructureLoss()(F.normalize(z, dim=1), labels).backward()
    assert z.grad is not None and bool(torch.isfinite(z.grad).all())
    assert float(z.grad.abs().sum()) > 0


def test_a_run_config_builds_and_trains_lifted_structure() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    params = {"neg_margin": 0.8, "pos_margin": 0.1}
    cfg = config_from_dict({"loss": {"kind": "lifted_structure", "params": params}})
    loss = build_objective(cfg.loss, "cosine")
    assert isinstance(loss, GeneralizedLiftedStructureLoss)
    assert (loss.neg_margin, loss.pos_margin, loss.distance.name) == (0.8, 0.1, "cosine")
    trains(["loss.kind=lifted_structure", "loss.mining=null"])
