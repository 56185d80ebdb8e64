"""Integer tensors handed to a loss or miner as embeddings (labels, or image bytes, by mistake)
were mined and scored as if they were a model's output: ``TripletMarginLoss()(z.long(), y)``
returned a loss of 0.2 and no error. They are now refused in one sentence naming the argument."""

from __future__ import annotations

import pytest
import torch

from siamkit.losses import ContrastiveLoss, MultiSimilarityLoss, TripletMarginLoss
from siamkit.miners import BatchHardMiner, mine_triplets

Z = torch.randint(0, 5, (12, 4))
Y = torch.arange(12) % 3
NAMED = r"^embeddings must be floating point \(a model's output\), got dtype torch\.int64$"


@pytest.mark.parametrize(
    "call",
    [
        lambda: TripletMarginLoss()(Z, Y),
        lambda: ContrastiveLoss()(Z, Y),
        lambda: MultiSimilarityLoss()(Z, Y),
        lambda: mine_triplets(Z, Y, "semihard"),
        lambda: BatchHardMiner()(Z, Y),
    ],
    ids=["triplet", "contrastive", "multi_similarity", "mine_triplets", "batch_hard"],
)
def test_integer_embeddings_are_refused(call) -> None:
    with pytest.raises(TypeError, match=NAMED):
        call()


def test_float_embeddings_of_the_same_values_still_mine() -> None:
    a, p, n = mine_triplets(Z.float(), Y, "all")
    assert len(a) == len(p) == len(n) > 0
