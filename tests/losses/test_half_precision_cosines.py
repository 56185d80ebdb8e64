"""Losses that take an arccosine or a chord length of a cosine stay finite under autocast.

Under ``torch.autocast`` a matmul of unit vectors comes out in bfloat16 (float16 on CUDA), where a
cosine of two close vectors (past ``1 - 2**-9``) rounds to exactly 1 or above; clamping it to
``1 - 1e-7`` in that precision changes nothing, and ``acos`` or ``sqrt(2 - 2 cos)`` of it has an
infinite gradient, which turns every gradient of the batch into NaN. CPU autocast with bfloat16
shows it without a GPU.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from siamkit.losses import (
    CrossBatchMemory,
    NormalizedSoftmaxLoss,
    SoftTripleLoss,
    SubCenterArcFaceLoss,
    TupletMarginLoss,
)

# two near-coincident items of class 0 (cosine ~0.9998) and one of class 1
Z = F.normalize(torch.tensor([[1.0, 0.02], [1.0, 0.0], [0.0, 1.0]]), dim=1)
Y = torch.tensor([0, 0, 1])


def _tuplet() -> nn.Module:
    return TupletMarginLoss()


def _xbm_tuplet() -> nn.Module:
    xbm = CrossBatchMemory(TupletMarginLoss(), embedding_dim=2, memory_size=6)
    xbm(Z, Y)  # fills the memory: the call under test mines batch x (batch + memory)
    return xbm


def _with_proxies(loss: nn.Module, rows: list[list[float]]) -> nn.Module:
    with torch.no_grad():  # each class's proxies close to its items
        loss.proxies.copy_(torch.tensor(rows))  # type: ignore[operator]
    return loss


def _arcface() -> nn.Module:
    loss = NormalizedSoftmaxLoss([0, 1], 2, scale=16.0, margin=0.5)
    return _with_proxies(loss, [[1.0, 0.01], [0.0, 1.0]])


def _sub_center_arcface() -> nn.Module:
    loss = SubCenterArcFaceLoss([0, 1], 2, sub_centers=2)
    return _with_proxies(loss, [[1.0, 0.01], [0.6, 0.8], [0.0, 1.0], [0.8, 0.6]])


def _soft_triple() -> nn.Module:
    loss = SoftTripleLoss([0, 1], 2, centers_per_class=2)  # tau 0.2: the centre-merging term
    return _with_proxies(loss, [[1.0, 0.03], [1.0, 0.0], [0.0, 1.0], [0.03, 1.0]])


@pytest.mark.parametrize("make", [_tuplet, _arcface, _sub_center_arcface, _soft_triple])
def test_gradients_are_finite_under_bfloat16_autocast(make: Callable[[], nn.Module]) -> None:
    # the reference: the same loss on the same inputs in float32, without autocast
    want_loss = make()
    z32 = Z.clone().requires_grad_(True)
    want = want_loss(z32, Y)

    loss = make()
    z = Z.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss(z, Y)
    params = [p for p in loss.parameters() if p.requires_grad]
    grads = torch.autograd.grad(got.float(), [z, *params])

    assert all(bool(torch.isfinite(g).all()) for g in grads), grads
    # bfloat16 keeps ~3 significant digits of each cosine, scaled by up to 64 in the logits
    assert float(got.detach()) == pytest.approx(float(want.detach()), abs=0.2)


@pytest.mark.parametrize("make", [_tuplet, _xbm_tuplet])
def test_gradients_are_finite_for_bfloat16_embeddings(make: Callable[[], nn.Module]) -> None:
    # a network run in bfloat16 hands the loss bfloat16 embeddings (the memory's cosines are
    # elementwise products, which autocast leaves in float32, so this is how they round to 1)
    want = make()(Z, Y)
    z = Z.to(torch.bfloat16).requires_grad_(True)
    got = make()(z, Y)
    (grad,) = torch.autograd.grad(got.float(), [z])

    assert bool(torch.isfinite(grad).all()), grad
    assert float(got.detach()) == pytest.approx(float(want.detach()), abs=0.2)
