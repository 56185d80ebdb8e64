"""N-pair loss (Sohn, 2016) against a naive loop of the paper's formula and against
pytorch-metric-learning's NPairsLoss, in value and gradients; and as a run's ``loss.kind``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains
from _pml import assert_finite_nonzero, assert_same_as_peer, batch, ms_pairs, value_and_grads

from siamkit.losses import NPairsLoss, n_pairs_loss
from siamkit.losses.n_pairs import n_pairs_from_batch
from siamkit.types import Pairs

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_regularizers = pytest.importorskip("pytorch_metric_learning.regularizers")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


def naive_n_pairs(z, labels, l2_reg):
    """One pair per class (its first two items); per pair i
    log(1 + sum_{j != i} exp(f_i . f_j+ - f_i . f_i+)), averaged; plus l2_reg * mean ||f||^2."""
    pairs = []
    for c in sorted(set(labels)):
        items = [i for i, y in enumerate(labels) if y == c]
        if len(items) >= 2:
            pairs.append((items[0], items[1]))
    total = 0.0
    for a, p in pairs:
        own = float(z[a] @ z[p])
        total += math.log(1 + sum(math.exp(float(z[a] @ z[q]) - own) for _, q in pairs if q != p))
    reg = sum(float(v @ v) for v in z) / len(z)
    return total / len(pairs) + l2_reg * reg


def test_n_pairs_matches_a_naive_loop() -> None:
    z, labels = batch(0, b=11, d=3, classes=4)
    got = NPairsLoss(l2_reg=0.01)(z, labels)
    assert float(got) == pytest.approx(naive_n_pairs(z, labels.tolist(), 0.01), rel=1e-5)


@pytest.mark.parametrize("given", ["all", "pairs", "l2_reg"])
def test_n_pairs_equals_pml_in_value_and_gradients(given: str) -> None:
    z, labels = batch(1)
    reg = 0.02 if given == "l2_reg" else 0.0
    ours = NPairsLoss(l2_reg=reg)
    peer = pml_losses.NPairsLoss()
    if reg:  # the paper's form: raw inner products and the penalty on the raw norms
        peer = pml_losses.NPairsLoss(
            distance=pml_distances.DotProductSimilarity(normalize_embeddings=False),
            embedding_regularizer=pml_regularizers.LpRegularizer(power=2),
            embedding_reg_weight=reg,
        )
    peer_idx, our_idx = (
        ms_pairs(F.normalize(z, dim=1), labels) if given == "pairs" else (None, None)
    )
    # through an L2 normalisation (siamkit's models normalise in their head), except with l2_reg:
    # a constant on unit vectors, so compared on raw embeddings
    got, got_z = value_and_grads(ours, z, labels, our_idx, normalize=not reg)
    want, want_z = value_and_grads(peer, z, labels, peer_idx, normalize=not reg)
    assert_same_as_peer(got, got_z, want, want_z)


def test_one_pair_per_class_is_chosen_from_the_mined_pairs() -> None:
    labels = torch.tensor([0, 1, 0, 1, 0, 2])
    a, p = n_pairs_from_batch(labels)
    assert (a.tolist(), p.tolist()) == ([0, 1], [2, 3])  # class 2 has no pair
    mined = Pairs(torch.tensor([4, 2, 3]), torch.tensor([0, 4, 5]), torch.tensor([1, 1, 0]).bool())
    a, p = n_pairs_from_batch(labels, mined)
    assert (a.tolist(), p.tolist()) == ([4], [0])


def test_n_pairs_gives_finite_nonzero_gradients_and_zero_without_pairs() -> None:
    z, labels = batch(2)
    z.requires_grad_(True)
    NPairsLoss()(F.normalize(z, dim=1), labels).backward()
    assert_finite_nonzero(z.grad)
    x = torch.randn(3, 4, requires_grad=True)
    out = NPairsLoss()(x, torch.tensor([0, 1, 2]))
    assert float(out.detach()) == 0.0 and out.requires_grad
    assert float(n_pairs_loss(torch.empty(0, 4), torch.empty(0, 4))) == 0.0
    with pytest.raises(ValueError, match="l2_reg must be a finite number >= 0"):
        NPairsLoss(l2_reg=-1.0)
    with pytest.raises(ValueError, match="anchors and positives must be"):
        n_pairs_loss(torch.randn(2, 4), torch.randn(3, 4))


def test_a_run_config_builds_and_trains_n_pairs() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    cfg = config_from_dict({"loss": {"kind": "n_pairs", "params": {"l2_reg": 0.002}}})
    loss = build_objective(cfg.loss, "euclidean")
    assert isinstance(loss, NPairsLoss) and loss.l2_reg == 0.002
    trains(["loss.kind=n_pairs", "loss.mining=null"])
