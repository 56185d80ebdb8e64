"""An empty batch (the last of a filtered loader, say) gives every label-based loss a zero loss
that backpropagates, and no triplets or pairs from any miner; batch-hard and the contrastive
loss's hardest pairs failed instead inside torch ('argmax(): Expected reduction dim 1 to have
non-zero size')."""

from __future__ import annotations

import pytest
import torch

from siamkit.losses import ContrastiveLoss, SoftMarginTripletLoss, TripletMarginLoss
from siamkit.miners import BatchHardMiner, mine_pairs, mine_triplets

EMPTY_Y = torch.zeros(0, dtype=torch.long)


@pytest.mark.parametrize(
    "loss",
    [
        TripletMarginLoss(mining="batch_hard"),
        SoftMarginTripletLoss(),
        ContrastiveLoss(mining="hardest"),
    ],
    ids=["triplet_batch_hard", "soft_margin_triplet", "contrastive_hardest"],
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
