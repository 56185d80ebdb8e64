"""Triplet losses keep their value and gradient for bfloat16 embeddings.

A listed set (a miner's ``Triplets``, or ``MarginLoss``'s every triplet) reads each distance once
per triplet it is in, so the gradient of a ``(B, B)`` distance entry is the sum of hundreds of
shares. Summed in bfloat16 (8 bits) the gradient was 13% off here for the triplet loss (46% with
100 items a class), 7% for the soft-margin one and 2% for the margin loss, which also rounded its
``beta`` (1.2 to 1.203125); the fused window strategies, from a bfloat16 distance matrix, were 1%
off. Batch-hard mining read a bfloat16 matrix, where distances near 1 tie in steps of 2**-7, and
took the first of the tied as the hardest: 18% of the gradient off. The reference is the same
loss on the same (rounded) embeddings in float32.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from siamkit.losses import MarginLoss, SoftMarginTripletLoss, TripletMarginLoss
from siamkit.miners import mine_triplets

CASES: dict[str, tuple[Callable[[], nn.Module], bool]] = {  # loss, given the mined triplets
    "triplet_listed": (lambda: TripletMarginLoss(0.2), True),
    "soft_margin_listed": (lambda: SoftMarginTripletLoss(), True),
    "margin_listed": (lambda: MarginLoss(learn_beta=False), True),
    "margin_every_triplet": (lambda: MarginLoss(learn_beta=False), False),
    "triplet_fused": (lambda: TripletMarginLoss(0.2, mining="all"), False),
    "triplet_batch_hard": (lambda: TripletMarginLoss(0.2, mining="batch_hard"), False),
    "soft_margin_batch_hard": (lambda: SoftMarginTripletLoss(mining="batch_hard"), False),
    "margin_batch_hard": (lambda: MarginLoss(learn_beta=False, mining="batch_hard"), False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bfloat16_embeddings_give_the_float32_loss_and_gradient(name: str) -> None:
    make, listed = CASES[name]
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(160, 16, generator=g), dim=1).to(torch.bfloat16)
    y = torch.arange(160) % 4  # 40 per class: every distance is in ~120 or more triplets
    extra = (mine_triplets(z.float(), y, "all"),) if listed else ()

    half = z.clone().requires_grad_(True)
    got = make()(half, y, *extra)
    (g_half,) = torch.autograd.grad(got, [half])
    wide = z.float().requires_grad_(True)
    want = make()(wide, y, *extra)
    (g_wide,) = torch.autograd.grad(want, [wide])

    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=5e-3)
    # bfloat16 itself rounds each gradient entry by up to 2**-9 (0.2%)
    err = (g_half.float() - g_wide).norm() / g_wide.norm()
    assert float(err) < 0.01
