"""What the loss tests that compare a siamkit loss with pytorch-metric-learning's share: a random
batch, the value and gradients of a loss, PML's mined pairs as siamkit's ``Pairs``, and the
tolerances the two must meet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from siamkit.types import Pairs


def batch(
    seed: int, b: int = 24, d: int = 8, classes: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """``b`` standard normal embeddings of size ``d`` and their labels in ``range(classes)``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g), torch.randint(0, classes, (b,), generator=g)


def value_and_grads(
    loss_fn: Callable[..., torch.Tensor],
    z: torch.Tensor,
    labels: torch.Tensor,
    indices: Any = None,
    *,
    normalize: bool = True,
    params: Sequence[torch.Tensor] = (),
) -> tuple[Any, ...]:
    """``(value, dz, *dparams)`` of ``loss_fn`` on a copy of ``z``, through an L2 normalisation
    when ``normalize`` (siamkit's models normalise in their head; PML's distances do inside),
    given ``indices`` (mined pairs or triplets) when not None."""
    z = z.clone().requires_grad_(True)
    x = F.normalize(z, dim=1) if normalize else z
    value = loss_fn(x, labels) if indices is None else loss_fn(x, labels, indices)
    return (float(value.detach()), *torch.autograd.grad(value, [z, *params]))


def pml_pairs(indices: tuple[torch.Tensor, ...]) -> Pairs:
    """PML's mined pairs ``(a1, p, a2, n)`` as siamkit's ``Pairs``: positives, then negatives."""
    a1, p, a2, n = indices
    same = torch.cat(
        [torch.ones_like(a1, dtype=torch.bool), torch.zeros_like(a2, dtype=torch.bool)]
    )
    return Pairs(torch.cat([a1, a2]), torch.cat([p, n]), same)


def ms_pairs(x: torch.Tensor, labels: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], Pairs]:
    """The pairs PML's MultiSimilarityMiner(epsilon=0.1) mines on ``x``: PML's tuple and ours."""
    from pytorch_metric_learning.miners import MultiSimilarityMiner

    peer = MultiSimilarityMiner(epsilon=0.1)(x, labels)
    return peer, pml_pairs(peer)


def assert_grads_close(got: torch.Tensor, want: torch.Tensor) -> None:
    """Every entry within 1e-5 of the largest of ``want``."""
    assert float((got - want).abs().max()) <= 1e-5 * float(want.abs().max())


def assert_same_as_peer(got: float, got_z: torch.Tensor, want: float, want_z: torch.Tensor) -> None:
    """The value to a relative 1e-5 and the gradient within 1e-5 of the largest."""
    assert got == pytest.approx(want, rel=1e-5)
    assert_grads_close(got_z, want_z)


def assert_finite_nonzero(*grads: torch.Tensor | None) -> None:
    """Each gradient exists, is finite everywhere and is not all zero."""
    for g in grads:
        assert g is not None and bool(torch.isfinite(g).all()) and float(g.abs().sum()) > 0
