"""Miners given bfloat16 embeddings mine what they mine from the same embeddings in float32.

A bfloat16 distance matrix ties distances near 1 in steps of 2**-7: batch-hard took the first of
the tied as the hardest, and the margin sets moved by a rounding. The miners now read a float32
matrix of the (rounded) embeddings, as the losses do.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from siamkit.miners import (
    BatchEasyHardMiner,
    BatchHardMiner,
    MultiSimilarityMiner,
    PairMarginMiner,
    PairMiner,
    SemiHardMiner,
    TripletMarginMiner,
    offline_mine_pairs,
    offline_mine_triplets,
)

MINERS: dict[str, Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]] = {
    "batch_hard": BatchHardMiner(),
    "semihard": SemiHardMiner(0.2),
    "triplet_margin": TripletMarginMiner(0.2, "semihard"),
    "batch_easy_hard": BatchEasyHardMiner("easy", "hard"),
    "multi_similarity": MultiSimilarityMiner(0.1),
    "pair_margin": PairMarginMiner(),
    "hardest_pairs": PairMiner("hardest"),
    "offline_batch_hard": lambda z, y: offline_mine_triplets(z, y, "batch_hard", chunk_size=64),
    "offline_hardest": lambda z, y: offline_mine_pairs(z, y, "hardest", chunk_size=64),
}


def _as_set(mined: tuple[torch.Tensor, ...]) -> set[tuple[int, ...]]:
    return set(zip(*(t.tolist() for t in mined)))


@pytest.mark.parametrize("name", list(MINERS))
def test_bfloat16_embeddings_mine_the_float32_set(name: str) -> None:
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(160, 16, generator=g), dim=1).to(torch.bfloat16)
    y = torch.arange(160) % 4
    miner = MINERS[name]

    got, want = miner(z, y), miner(z.float(), y)

    assert len(want[0]) > 0
    assert _as_set(got) == _as_set(want)
