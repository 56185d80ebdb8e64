"""``sum_ij W_ij d(z_i, z_j)`` with a memory-light gradient for the stock Euclidean distances.

The fused losses reduce to a weighted sum of the ``(B, B)`` distance matrix with weights that do
not depend on ``z`` (they are counts). Autograd through a Euclidean matrix keeps about ten
``B x B`` intermediates alive (600 MB at ``B = 4096``); here the matrix is computed without a
graph and the gradient is written out instead:

    euclidean:    d_ij = |z_i - z_j|    grad_i = sum_j C_ij (z_i - z_j),  C = W / d + (W / d)^T
    sqeuclidean:  d_ij = |z_i - z_j|^2  grad_i = sum_j C_ij (z_i - z_j),  C = 2 (W + W^T)

(``W / d`` is taken as 0 where ``d = 0``, like the distances' own gradient there). Any other
distance, learned ones included, goes through autograd unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from siamkit.distances import Distance, FixedDistance, get_distance

_ANALYTIC = ("euclidean", "sqeuclidean")


def analytic_kind(distance: Distance) -> str | None:
    """``"euclidean"`` / ``"sqeuclidean"`` for the stock distances of those names, else ``None``."""
    if isinstance(distance, FixedDistance) and distance.name in _ANALYTIC:
        return distance.name if distance is get_distance(distance.name) else None
    return None


class _WeightedDistanceSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z: Tensor, weight: Tensor, dist: Tensor, kind: str) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(z, weight, dist)
        ctx.kind = kind
        return (weight * dist).sum(dtype=torch.float64)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, None, None, None]:  # type: ignore[override]
        z, weight, dist = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        if ctx.kind == "euclidean":
            coef = torch.where(
                dist > 0, weight / torch.where(dist > 0, dist, torch.ones_like(dist)), 0.0
            )
        else:
            coef = 2.0 * weight
        coef = coef + coef.T  # (B, B)
        grad = coef.sum(1, keepdim=True) * z - coef @ z  # (B, D)
        return grad * grad_out.to(z.dtype), None, None, None


def weighted_distance_sum(z: Tensor, weight: Tensor, dist: Tensor, kind: str) -> Tensor:
    """``sum(weight * dist)`` in float64 with the analytic gradient with respect to ``z``.

    Args:
        z: ``(B, D)`` embeddings.
        weight: ``(B, B)`` weights (no gradient).
        dist: ``(B, B)`` the ``kind`` distance matrix of ``z`` with itself, computed without a graph.
        kind: "euclidean" or "sqeuclidean".
    """
    if kind not in _ANALYTIC:
        raise ValueError(f"kind must be one of {_ANALYTIC}, got {kind!r}")
    return _WeightedDistanceSum.apply(z, weight, dist, kind)  # type: ignore[no-any-return]
