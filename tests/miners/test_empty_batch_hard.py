"""An empty batch (the last of a filtered loader, say) gives every label-based loss a zero loss
that backpropagates, and no triplets or pairs from any miner; batch-hard and the contrastive
loss's hardest pairs failed instead inside torch ('argmax(): Expected reduction dim 1 to have
non-zero size'), and so, later, did the multi-similarity and batch easy-hard miners ('amin()',
'min()'), and a cross-batch memory gave NaN with multi-similarity or lifted structure."""

from __future__ import annotations

import pytest
import torch

from siamkit.losses import (
    ContrastiveLoss,
    CrossBatchMemory,
    GeneralizedLiftedStructureLoss,
    MultiSimilarityLoss,
    SoftMarginTripletLoss,
    TripletMarginLoss,
)
from siamkit.miners import (
    EASY_HARD_STRATEGIES,
    BatchEasyHardMiner,
    BatchHardMiner,
    MultiSimilarityMiner,
    mine_pairs,
    mine_triplets,
)

EMPTY_Y = torch.zeros(0, dtype=torch.long)


@pytest.mark.parametrize(
    "loss",
    [
        TripletMarginLoss(mining="batch_hard"),
        SoftMarginTripletLoss(),
        ContrastiveLoss(mining="hardest"),
        MultiSimilarityLoss(mining="multi_similarity"),
        TripletMarginLoss(mining=BatchEasyHardMiner()),
    ],
    ids=[
        "triplet_batch_hard",
        "soft_margin_triplet",
        "contrastive_hardest",
        "ms_mined",
        "easy_hard",
    ],
)
def test_an_empty_batch_gives_a_zero_loss_that_backpropagates(loss: torch.nn.Module) -> None:
    z = torch.randn(0, 8, requires_grad=True)
    value = loss(z, EMPTY_Y)
    value.backward()
    assert value.item() == 0.0 and z.grad is not None


def test_batch_hard_and_hardest_pairs_mine_nothing_from_an_empty_batch() -> None:
    z = torch.randn(0, 8)
    assert all(len(t) == 0 for t in mine_triplets(z, EMPTY_Y, "batch_hard"))
    assert all(len(t) == 0 for t in BatchHardMiner()(z, EMPTY_Y))
    assert all(len(t) == 0 for t in mine_pairs(z, EMPTY_Y, "hardest"))


@pytest.mark.parametrize("pos_strategy", EASY_HARD_STRATEGIES)
@pytest.mark.parametrize("neg_strategy", ["easy", "hard"])
def test_the_pair_and_easy_hard_miners_mine_nothing_from_an_empty_batch(
    pos_strategy: str, neg_strategy: str
) -> None:
    z = torch.randn(0, 8)
    assert all(len(t) == 0 for t in BatchEasyHardMiner(pos_strategy, neg_strategy)(z, EMPTY_Y))
    assert all(len(t) == 0 for t in MultiSimilarityMiner()(z, EMPTY_Y))


@pytest.mark.parametrize(
    "inner",
    [
        MultiSimilarityLoss,
        lambda: MultiSimilarityLoss(mining="multi_similarity"),
        GeneralizedLiftedStructureLoss,
    ],
    ids=["multi_similarity", "multi_similarity_mined", "lifted_structure"],
)
def test_an_empty_batch_against_a_filled_memory_gives_zero_not_nan(inner) -> None:  # type: ignore[no-untyped-def]
    xbm = CrossBatchMemory(inner(), embedding_dim=8, memory_size=8)
    xbm(torch.randn(4, 8), torch.tensor([0, 0, 1, 1]))  # the memory now holds 4 embeddings
    z = torch.randn(0, 8, requires_grad=True)
    value = xbm(z, EMPTY_Y)
    value.backward()
    assert value.item() == 0.0 and z.grad is not None


@pytest.mark.parametrize("after_reset", [False, True], ids=["first_call", "after_reset"])
@pytest.mark.parametrize(
    "inner",
    [
        MultiSimilarityLoss,
        lambda: MultiSimilarityLoss(mining="multi_similarity"),
        GeneralizedLiftedStructureLoss,
    ],
    ids=["multi_similarity", "multi_similarity_mined", "lifted_structure"],
)
def test_an_empty_batch_against_an_empty_memory_gives_zero(inner, after_reset: bool) -> None:  # type: ignore[no-untyped-def]
    # the memory's own copy of the multi-similarity miner raised amin()'s IndexError here
    xbm = CrossBatchMemory(inner(), embedding_dim=8, memory_size=8, warmup_steps=0)
    if after_reset:
        xbm(torch.randn(4, 8), torch.tensor([0, 0, 1, 1]))
        xbm.reset()
    z = torch.randn(0, 8, requires_grad=True)
    value = xbm(z, EMPTY_Y)
    value.backward()
    assert value.item() == 0.0 and z.grad is not None
