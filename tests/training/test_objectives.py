"""Objectives against independent references: pytorch-metric-learning and naive loops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamkit.distances import MLPMetric
from siamkit.training import LossConfig, build_objective
from siamkit.training.objectives import MinedMultiSimilarityLoss, PairHeadObjective


def _batch(b: int = 24, d: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(b, d, generator=g), dim=1)
    return z, torch.arange(b) % 4


@pytest.mark.parametrize("mined", [True, False])
def test_multi_similarity_matches_pytorch_metric_learning(mined: bool) -> None:
    pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
    pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
    z, y = _batch()
    ours = MinedMultiSimilarityLoss(epsilon=0.1 if mined else None)(z, y)
    ref_loss = pml_losses.MultiSimilarityLoss(alpha=2.0, beta=50.0, base=0.5)
    if mined:
        ref = ref_loss(z, y, pml_miners.MultiSimilarityMiner(epsilon=0.1)(z, y))
    else:
        ref = ref_loss(z, y)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_pair_head_bce_matches_a_loop_over_pairs() -> None:
    z, y = _batch(10, 4)
    head = MLPMetric(4, hidden=8)
    ours = PairHeadObjective(head)(z, y)
    terms, weights = [], []
    n_pos = sum(int(y[i] == y[j]) for i in range(10) for j in range(i + 1, 10))
    n_neg = 45 - n_pos
    for i in range(10):
        for j in range(i + 1, 10):
            logit = head.logits(z[i : i + 1], z[j : j + 1])[0]
            same = float(y[i] == y[j])
            w = n_neg / n_pos if same else 1.0
            terms.append(w * F.binary_cross_entropy_with_logits(logit, torch.tensor(same)))
            weights.append(1.0)
    assert torch.allclose(ours, torch.stack(terms).sum() / len(terms), atol=1e-6)


def test_contrastive_objective_matches_a_loop_over_pairs() -> None:
    z, y = _batch(9, 4)
    ours = build_objective(LossConfig(kind="contrastive", margin=0.8), "euclidean")(z, y)
    terms = []
    for i in range(9):
        for j in range(i + 1, 9):
            d = torch.dist(z[i], z[j])
            terms.append(d**2 if y[i] == y[j] else F.relu(0.8 - d) ** 2)
    assert torch.allclose(ours, torch.stack(terms).mean(), atol=1e-6)


def test_triplet_batch_hard_matches_a_loop() -> None:
    z, y = _batch(12, 4)
    ours = build_objective(LossConfig(kind="triplet", mining="auto", margin=0.3), "euclidean")(z, y)
    d = torch.cdist(z, z)
    terms = []
    for a in range(12):
        pos = [d[a, p] for p in range(12) if p != a and y[p] == y[a]]
        neg = [d[a, n] for n in range(12) if y[n] != y[a]]
        terms.append(F.relu(max(pos) - min(neg) + 0.3))
    assert torch.allclose(ours, torch.stack(terms).mean(), atol=1e-5)


def test_supcon_objective_and_given_triplets() -> None:
    z, y = _batch(8, 4)
    sup = build_objective(LossConfig(kind="supcon", temperature=0.2), "euclidean")
    assert sup(z, y).dim() == 0
    tri = build_objective(LossConfig(kind="triplet", offline_mining=True, margin=0.2), "euclidean")
    a, p, n = torch.tensor([0]), torch.tensor([4]), torch.tensor([1])
    want = F.relu(torch.dist(z[0], z[4]) - torch.dist(z[0], z[1]) + 0.2)
    assert torch.allclose(tri(z, y, (a, p, n)), want, atol=1e-6)


def test_bce_needs_an_mlp_head() -> None:
    with pytest.raises(TypeError, match="mlp"):
        build_objective(LossConfig(kind="bce"), "euclidean")
