"""Every functional loss against a naive Python loop, and against pytorch-metric-learning where it
computes the same quantity; float32 and float64; random and degenerate inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml_losses

from siamkit.losses import (
    MultiSimilarityLoss,
    NTXentLoss,
    PairBCELoss,
    SupConLoss,
    circle_loss,
    contrastive_loss,
    multi_similarity_loss,
    nt_xent_loss,
    pair_bce_loss,
    soft_margin_triplet_loss,
    supcon_loss,
    triplet_margin_loss,
)

DTYPES = [torch.float32, torch.float64]


def tol(dtype: torch.dtype) -> float:
    return 1e-5 if dtype == torch.float32 else 1e-10


@pytest.mark.parametrize("dtype", DTYPES)
def test_contrastive_loss_matches_seed_formula_loop(dtype: torch.dtype) -> None:
    d = torch.rand(20, dtype=dtype) * 2
    same = torch.randint(0, 2, (20,))
    m = 0.8
    # seed 001: L = (1 - Y) D^2 + Y max(0, m - D)^2 with Y = 1 for dissimilar
    expected = (
        sum(
            (1 - (1 - s)) * di**2 + (1 - s) * max(0.0, m - di) ** 2
            for di, s in zip(d.tolist(), same.tolist())
        )
        / 20
    )
    assert contrastive_loss(d, same, margin=m).item() == pytest.approx(expected, abs=tol(dtype))
    assert contrastive_loss(d, same.bool(), margin=m).item() == pytest.approx(
        expected, abs=tol(dtype)
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_triplet_losses_match_loops(dtype: torch.dtype) -> None:
    d_ap, d_an = torch.rand(30, dtype=dtype), torch.rand(30, dtype=dtype)
    hinge = sum(max(0.0, p - n + 0.2) for p, n in zip(d_ap.tolist(), d_an.tolist())) / 30
    soft = sum(math.log1p(math.exp(p - n)) for p, n in zip(d_ap.tolist(), d_an.tolist())) / 30
    assert triplet_margin_loss(d_ap, d_an, margin=0.2).item() == pytest.approx(
        hinge, abs=tol(dtype)
    )
    assert soft_margin_triplet_loss(d_ap, d_an).item() == pytest.approx(soft, abs=tol(dtype))


def test_empty_inputs_give_zero_with_gradient_not_nan() -> None:
    e = torch.zeros(0, requires_grad=True)
    for value in (
        contrastive_loss(e, torch.zeros(0)),
        triplet_margin_loss(e, e),
        soft_margin_triplet_loss(e, e),
        pair_bce_loss(e, torch.zeros(0)),
    ):
        assert value.item() == 0.0 and value.requires_grad


def test_mismatched_lengths_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="equal length"):
        contrastive_loss(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="equal length"):
        triplet_margin_loss(torch.zeros(3), torch.zeros(4))


@pytest.mark.parametrize(
    ("loss", "args", "named"),
    [
        (contrastive_loss, ([0.5, 0.2], torch.tensor([1, 0])), "list for d"),
        (triplet_margin_loss, (torch.zeros(2), np.zeros(2)), "ndarray for d_an"),
        (soft_margin_triplet_loss, (np.zeros(2), np.zeros(2)), "ndarray for d_ap"),
        (pair_bce_loss, (torch.zeros(2), [1, 0]), "list for same"),
        (multi_similarity_loss, (np.eye(3), torch.tensor([0, 1, 0])), "ndarray for sim"),
        (supcon_loss, (torch.eye(3), [0, 1, 0]), "list for labels"),
        (circle_loss, (np.eye(3), np.array([0, 1, 0])), "ndarray for embeddings"),
        (nt_xent_loss, (np.eye(3), np.eye(3)), "ndarray for z1"),
    ],
)
def test_a_list_or_numpy_array_is_a_clear_type_error(loss, args, named) -> None:
    with pytest.raises(TypeError, match=rf"^{loss.__name__} takes torch tensors, got {named}; "):
        loss(*args)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pair_bce_matches_loop(dtype: torch.dtype) -> None:
    logits, same = torch.randn(15, dtype=dtype), torch.randint(0, 2, (15,))
    expected = (
        -sum(
            s * math.log(1 / (1 + math.exp(-x))) + (1 - s) * math.log(1 - 1 / (1 + math.exp(-x)))
            for x, s in zip(logits.tolist(), same.tolist())
        )
        / 15
    )
    assert pair_bce_loss(logits, same).item() == pytest.approx(expected, abs=tol(dtype))
    assert PairBCELoss()(logits, same).item() == pytest.approx(expected, abs=tol(dtype))


def naive_multi_similarity(
    sim: torch.Tensor, labels: list[int], alpha: float, beta: float, base: float
) -> float:
    total, b = 0.0, len(labels)
    for i in range(b):
        pos = [sim[i, j].item() for j in range(b) if j != i and labels[j] == labels[i]]
        neg = [sim[i, j].item() for j in range(b) if labels[j] != labels[i]]
        pl = math.log(1 + sum(math.exp(-alpha * (s - base)) for s in pos)) / alpha if pos else 0.0
        nl = math.log(1 + sum(math.exp(beta * (s - base)) for s in neg)) / beta if neg else 0.0
        total += pl + nl
    return total / b


@pytest.mark.parametrize("dtype", DTYPES)
def test_multi_similarity_matches_loop_and_pml(dtype: torch.dtype) -> None:
    z = torch.randn(16, 8, dtype=dtype)
    labels = torch.randint(0, 4, (16,))
    zn = F.normalize(z, dim=1)
    sim = zn @ zn.T
    expected = naive_multi_similarity(sim, labels.tolist(), 2.0, 50.0, 0.5)
    assert multi_similarity_loss(sim, labels).item() == pytest.approx(
        expected, rel=1e-6, abs=tol(dtype)
    )
    ours = MultiSimilarityLoss()(z, labels)
    peer = pml_losses.MultiSimilarityLoss(alpha=2, beta=50, base=0.5)(z, labels)
    assert ours.item() == pytest.approx(peer.item(), rel=1e-5)


def naive_supcon(z: torch.Tensor, labels: list[int], t: float) -> float:
    b, losses = len(labels), []
    s = [[(z[i] @ z[j]).item() / t for j in range(b)] for i in range(b)]
    for i in range(b):
        pos = [j for j in range(b) if j != i and labels[j] == labels[i]]
        if not pos:
            continue
        denom = math.log(sum(math.exp(s[i][k]) for k in range(b) if k != i))
        losses.append(-sum(s[i][j] - denom for j in pos) / len(pos))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("dtype", DTYPES)
def test_supcon_matches_loop_and_pml(dtype: torch.dtype) -> None:
    z = torch.randn(12, 6, dtype=dtype)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4])  # class 4 has no positive
    expected = naive_supcon(F.normalize(z, dim=1), labels.tolist(), 0.1)
    assert supcon_loss(F.normalize(z, dim=1), labels, 0.1).item() == pytest.approx(
        expected, rel=1e-6
    )
    peer = pml_losses.SupConLoss(temperature=0.1)(z, labels)
    assert SupConLoss(0.1)(z, labels).item() == pytest.approx(peer.item(), rel=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nt_xent_matches_loop_and_pml(dtype: torch.dtype) -> None:
    n, t = 6, 0.5
    z1, z2 = torch.randn(n, 5, dtype=dtype), torch.randn(n, 5, dtype=dtype)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        logits = [(z[i] @ z[k]).item() / t for k in range(2 * n) if k != i]
        total += -((z[i] @ z[j]).item() / t - math.log(sum(math.exp(v) for v in logits)))
    assert nt_xent_loss(z1, z2, t).item() == pytest.approx(total / (2 * n), rel=1e-6)
    labels = torch.cat([torch.arange(n), torch.arange(n)])
    peer = pml_losses.NTXentLoss(temperature=t)(torch.cat([z1, z2]), labels)
    assert NTXentLoss(t)(z1, z2).item() == pytest.approx(peer.item(), rel=1e-4)


def test_degenerate_inputs_identical_points_and_all_same_labels() -> None:
    z = torch.ones(8, 4, requires_grad=True)
    same_labels = torch.zeros(8, dtype=torch.long)
    for value in (
        MultiSimilarityLoss()(z, same_labels),
        SupConLoss()(z, same_labels),
        NTXentLoss()(z[:4], z[4:]),
        contrastive_loss((z[:4] - z[4:]).norm(dim=1), torch.ones(4)),
    ):
        assert torch.isfinite(value)
        value.backward(retain_graph=True)
    assert torch.isfinite(z.grad).all()
    # all-same labels: multi-similarity has no negatives; only the positive term remains
    sim = torch.ones(8, 8)
    expected = math.log(1 + 7 * math.exp(-2 * 0.5)) / 2
    assert multi_similarity_loss(sim, same_labels).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("same", "shown"),
    [
        (torch.tensor([1, 3, 0]), "got 3 at index 1 (1 of 3 are neither)"),  # class ids
        (torch.tensor([1.0, 0.5, 0.5]), "got 0.5 at index 1 (2 of 3 are neither)"),  # a score
        (torch.tensor([float("nan"), 1.0, 0.0]), "got nan at index 0 (1 of 3 are neither)"),
    ],
)
def test_contrastive_loss_refuses_same_that_is_not_0_or_1(same: torch.Tensor, shown: str) -> None:
    # seed 001 defines Y as a label (1 dissimilar, 0 similar), not a degree: 3 or 0.5 trained
    # as a weight of 3 on d**2 and -2 on the margin term without a word
    with pytest.raises(ValueError) as err:
        contrastive_loss(torch.tensor([0.1, 0.2, 0.3]), same)
    assert str(err.value) == (
        f"contrastive_loss takes same as 1 (similar) or 0 (dissimilar) per pair, {shown}: give "
        "1 or 0 per pair (from class ids: same = y1 == y2), or train graded scores with a loss "
        "made for them (text: loss cosent)"
    )
    # 0/1 as ints, floats or bools read alike
    d = torch.tensor([0.5, 0.2])
    ref = contrastive_loss(d, torch.tensor([True, False]))
    for ok in (torch.tensor([1, 0]), torch.tensor([1.0, 0.0])):
        assert torch.equal(contrastive_loss(d, ok), ref)
