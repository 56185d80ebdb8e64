"""Which product each caller of the Euclidean matrix takes (``sqeuclidean_matrix``'s ``exact``):
training's (the miners, the triplet losses, offline mining) the float32 one, bit for bit as
before the float64 product, evaluation's the exact one, with a gallery widened once a pass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from test_matrix_cancellation import close_rows, float32_product

from siamkit.applications.faces.open_set import open_set_identification
from siamkit.distances import CohortNormalized, MahalanobisDistance, get_distance
from siamkit.distances import functional as F
from siamkit.evaluation._common import distance_rows
from siamkit.evaluation.retrieval import knn_classify
from siamkit.losses import TripletMarginLoss
from siamkit.losses.triplet import _matrix_and_weighted_sum, window_triplet_margin_loss
from siamkit.miners import (
    BatchEasyHardMiner,
    MultiSimilarityMiner,
    PairMarginMiner,
    mine_pairs,
    mine_triplets,
)
from siamkit.miners._common import distance_matrix
from siamkit.miners.offline import offline_mine_pairs, offline_mine_triplets


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[bool, bool]]]:
    """Each no-grad float32 call of ``sqeuclidean_matrix``: (exact, y widened once)."""
    seen: list[tuple[bool, bool]] = []
    real = F.sqeuclidean_matrix

    def spy(x: torch.Tensor, y: torch.Tensor, *, exact: bool = True) -> torch.Tensor:
        if not (torch.is_grad_enabled() and (x.requires_grad or y.requires_grad)):
            wide = F._WIDENED.get() if hasattr(F, "_WIDENED") else None
            seen.append((exact, wide is not None and wide.rows(y) is not None))
        return real(x, y) if exact else real(x, y, exact=False)

    monkeypatch.setattr(F, "sqeuclidean_matrix", spy)
    yield seen


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = close_rows(n=48, dim=16, seed=5)
    return torch.cat([x, y]), torch.arange(96) % 12


@pytest.mark.parametrize("distance", ["euclidean", "sqeuclidean"])
def test_the_miners_and_fused_losses_take_the_float32_product_bit_for_bit(distance: str) -> None:
    z, _ = batch()
    sq = float32_product(z, z)
    want = sq if distance == "sqeuclidean" else sq.sqrt()
    assert torch.equal(distance_matrix(z, distance), want)
    assert torch.equal(
        _matrix_and_weighted_sum(z.requires_grad_(), get_distance(distance))[0], want
    )
    assert not torch.equal(get_distance(distance).matrix(z.detach(), z.detach()), want)


def test_mahalanobis_in_a_miner_takes_the_float32_product() -> None:
    z, _ = batch()
    metric = MahalanobisDistance(16)
    with torch.no_grad():
        assert torch.equal(distance_matrix(z, metric), float32_product(z, z).sqrt())


def test_every_training_caller_asks_for_the_float32_product(calls: list[Any]) -> None:
    z, labels = batch()
    zg = z.clone().requires_grad_()
    for mining in ("batch_hard", "semihard", "hard", "all"):
        TripletMarginLoss(mining=mining)(zg, labels)
    TripletMarginLoss(mining="batch_hard", reduction="nonzero")(zg, labels)
    window_triplet_margin_loss(zg, labels, "semihard")
    mine_triplets(z, labels, "batch_hard")
    mine_pairs(z, labels, "hardest")
    BatchEasyHardMiner()(z, labels)
    PairMarginMiner()(z, labels)
    MultiSimilarityMiner(distance="euclidean")(z, labels)
    offline_mine_triplets(z, labels, "semihard", chunk_size=20)
    offline_mine_pairs(z, labels, "hardest", chunk_size=20)
    with torch.no_grad():  # a validation loss
        TripletMarginLoss(mining=None)(z, labels)
    assert len(calls) >= 12
    assert all(not exact for exact, _ in calls)


def test_evaluation_callers_take_the_exact_product_with_the_gallery_widened_once(
    calls: list[Any],
) -> None:
    z, labels = batch()
    for upper in (False, True):
        for _ in distance_rows(z, get_distance("euclidean"), upper=upper):
            pass
    knn_classify(z, labels, z[:7], k=3)
    gallery = z.numpy()
    open_set_identification(
        gallery, [str(int(c)) for c in labels], gallery[:9], ["0"] * 9, fars=(0.5,)
    )
    assert len(calls) >= 4
    assert all(exact and widened for exact, widened in calls), calls
    calls.clear()
    CohortNormalized("euclidean", z[:40], k=3).matrix(z[40:50], z[50:60])
    # the pair's own (N, M), and each side's distances to the cohort (widened)
    assert sorted(calls) == [(True, False), (True, True), (True, True)]


def test_a_widened_gallery_gives_the_values_of_widening_per_call() -> None:
    x, y = close_rows(n=60, seed=6)
    with torch.no_grad():
        alone = [F.sqeuclidean_matrix(x[:7], y), F.sqeuclidean_matrix(x[7:], y[13:41])]
        with F.widened_once(y):
            kept = [F.sqeuclidean_matrix(x[:7], y), F.sqeuclidean_matrix(x[7:], y[13:41])]
            y[0] += 1.0  # changed in place: not served from the stale copy
            changed = F.sqeuclidean_matrix(x[:1], y)
        assert torch.equal(changed, F.sqeuclidean_matrix(x[:1], y))
    for a, b in zip(alone, kept):
        assert torch.equal(a, b)
    assert float(np.abs(alone[0].numpy() - changed.numpy()).max()) > 0.1
