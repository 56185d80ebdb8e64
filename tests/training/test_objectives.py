"""Objectives against independent references: pytorch-metric-learning and naive loops.

Every value is compared with a reference computed another way, never only its shape.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamkit.distances import MLPMetric
from siamkit.losses import MultiSimilarityLoss, PairHeadLoss, SupConLoss
from siamkit.miners import MultiSimilarityMiner
from siamkit.training import LossConfig, build_objective
from siamkit.types import Pairs

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")


def _batch(b: int = 24, d: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(b, d, generator=g), dim=1)
    return z, torch.arange(b) % 4


def _to_pml(pairs: Pairs) -> tuple[torch.Tensor, ...]:
    """Our ``(first, second, same)`` as PML's ``(a1, p, a2, n)``."""
    s = pairs.same
    return pairs.first[s], pairs.second[s], pairs.first[~s], pairs.second[~s]


@pytest.mark.parametrize("mined", [True, False])
def test_multi_similarity_matches_pytorch_metric_learning(mined: bool) -> None:
    z, y = _batch()
    ours = build_objective(
        LossConfig(kind="multi_similarity", mining="auto" if mined else None), "euclidean"
    )(z, y)
    ref_loss = pml_losses.MultiSimilarityLoss(alpha=2.0, beta=50.0, base=0.5)
    if mined:
        ref = ref_loss(z, y, pml_miners.MultiSimilarityMiner(epsilon=0.1)(z, y))
    else:
        ref = ref_loss(z, y)
    assert torch.allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multi_similarity_miner_picks_pmls_pairs(seed: int) -> None:
    z, y = _batch(16, 4, seed)
    ours = _to_pml(MultiSimilarityMiner(epsilon=0.1)(z, y))
    ref = pml_miners.MultiSimilarityMiner(epsilon=0.1)(z, y)
    for mine, theirs in zip(ours, ref, strict=True):
        assert sorted(mine.tolist()) == sorted(theirs.tolist())
    pos = sorted(zip(ours[0].tolist(), ours[1].tolist(), strict=True))
    assert pos == sorted(zip(ref[0].tolist(), ref[1].tolist(), strict=True))
    # the loss given the mined indices is PML's loss given PML's miner
    given = MultiSimilarityLoss()(z, y, MultiSimilarityMiner(epsilon=0.1)(z, y))
    want = pml_losses.MultiSimilarityLoss()(z, y, ref)
    assert torch.allclose(given, want, atol=1e-5)


def test_supcon_with_and_without_a_miner_matches_pytorch_metric_learning() -> None:
    z, y = _batch(16, 6, 3)
    ref = pml_losses.SupConLoss(temperature=0.2)
    assert torch.allclose(SupConLoss(0.2)(z, y), ref(z, y), atol=1e-5)
    mined = MultiSimilarityMiner(epsilon=0.1)(z, y)
    assert torch.allclose(SupConLoss(0.2)(z, y, mined), ref(z, y, _to_pml(mined)), atol=1e-5)
    assert torch.allclose(
        build_objective(LossConfig(kind="supcon", temperature=0.2), "euclidean")(z, y),
        ref(z, y),
        atol=1e-5,
    )


def test_pair_head_bce_matches_a_loop_over_pairs() -> None:
    z, y = _batch(10, 4)
    head = MLPMetric(4, hidden=8)
    ours = PairHeadLoss(head)(z, y)
    assert torch.allclose(ours, build_objective(LossConfig(kind="bce"), head)(z, y))
    terms = []
    n_pos = sum(int(y[i] == y[j]) for i in range(10) for j in range(i + 1, 10))
    n_neg = 45 - n_pos
    for i in range(10):
        for j in range(i + 1, 10):
            logit = head.logits(z[i : i + 1], z[j : j + 1])[0]
            same = float(y[i] == y[j])
            w = n_neg / n_pos if same else 1.0
            terms.append(w * F.binary_cross_entropy_with_logits(logit, torch.tensor(same)))
    assert torch.allclose(ours, torch.stack(terms).sum() / len(terms), atol=1e-6)
    # given pairs: only those are scored
    pairs = Pairs(torch.tensor([0, 1]), torch.tensor([4, 2]), torch.tensor([True, False]))
    want = (
        F.binary_cross_entropy_with_logits(head.logits(z[:1], z[4:5])[0], torch.tensor(1.0))
        + F.binary_cross_entropy_with_logits(head.logits(z[1:2], z[2:3])[0], torch.tensor(0.0))
    ) / 2
    assert torch.allclose(PairHeadLoss(head)(z, y, pairs), want, atol=1e-6)


def test_contrastive_objective_matches_a_loop_over_pairs() -> None:
    z, y = _batch(9, 4)
    ours = build_objective(LossConfig(kind="contrastive", margin=0.8), "euclidean")(z, y)
    terms = []
    for i in range(9):
        for j in range(i + 1, 9):
            d = torch.dist(z[i], z[j])
            terms.append(d**2 if y[i] == y[j] else F.relu(0.8 - d) ** 2)
    assert torch.allclose(ours, torch.stack(terms).mean(), atol=1e-6)


def test_contrastive_with_pml_pairs_matches_pytorch_metric_learning() -> None:
    z, y = _batch(12, 4, 5)
    mined = MultiSimilarityMiner(epsilon=0.1, distance="euclidean")(z, y)
    ours = build_objective(LossConfig(kind="contrastive", margin=0.8), "euclidean")(z, y, mined)
    terms = [
        torch.dist(z[i], z[j]) ** 2 if s else F.relu(0.8 - torch.dist(z[i], z[j])) ** 2
        for i, j, s in zip(*mined, strict=True)
    ]
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


def test_given_triplets_and_wrong_indices() -> None:
    z, y = _batch(8, 4)
    tri = build_objective(LossConfig(kind="triplet", offline_mining=True, margin=0.2), "euclidean")
    a, p, n = torch.tensor([0]), torch.tensor([4]), torch.tensor([1])
    want = F.relu(torch.dist(z[0], z[4]) - torch.dist(z[0], z[1]) + 0.2)
    assert torch.allclose(tri(z, y, (a, p, n)), want, atol=1e-6)
    with pytest.raises(TypeError, match="needs Triplets"):
        tri(z, y, Pairs(a, p, torch.tensor([True])))


def test_bce_needs_an_mlp_head_and_unknown_losses_list_the_registry() -> None:
    with pytest.raises(TypeError, match="mlp"):
        build_objective(LossConfig(kind="bce"), "euclidean")
    with pytest.raises(ValueError, match=r"choose one of .*multi_similarity.*triplet"):
        build_objective(LossConfig(kind="arcface"), "euclidean")
