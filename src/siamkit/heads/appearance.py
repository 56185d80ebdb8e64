"""An appearance skip: low-resolution input pixels joined to the learned embedding.

Classes never seen in training often differ in coarse shape (an ankle boot vs a sneaker) that a
network trained to separate other classes learns to ignore. Joining an L2-normalised,
average-pooled copy of the input to the learned embedding keeps that information:

``z = [e ; w * normalize(avg_pool(x, pool))] / sqrt(1 + w**2)``

so ``z`` stays unit-length when ``e`` is, and ``w`` sets how much raw appearance counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AppearanceSkip(nn.Module):
    """Join ``w``-weighted, ``pool``×``pool`` average-pooled input pixels to an embedding.

    >>> skip = AppearanceSkip(weight=1.0, pool=4)
    >>> skip.extra_dim((1, 28, 28))
    49
    >>> skip(torch.rand(2, 1, 28, 28), torch.nn.functional.normalize(torch.randn(2, 8))).norm(dim=1)
    tensor([1.0000, 1.0000])
    """

    def __init__(self, weight: float = 1.0, pool: int = 4) -> None:
        super().__init__()
        if not weight > 0 or not math.isfinite(weight):
            raise ValueError(f"the appearance weight must be a positive number, got {weight}")
        if pool < 1:
            raise ValueError(f"pool must be at least 1, got {pool}")
        self.weight, self.pool = float(weight), int(pool)

    def extra_dim(self, input_shape: Sequence[int] | None) -> int:
        """How many values the skip adds for inputs of ``input_shape`` = ``(C, H, W)``."""
        if input_shape is None or len(input_shape) != 3:
            raise ValueError(
                "an appearance skip needs image inputs with a known input_shape (C, H, W); "
                f"got {input_shape}"
            )
        c, h, w = input_shape
        if h < self.pool or w < self.pool:
            raise ValueError(
                f"images of {h}×{w} pixels are smaller than the pooling window {self.pool}"
            )
        return int(c * (h // self.pool) * (w // self.pool))

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        """``x``: ``(N, C, H, W)`` input in ``[0, 1]``; ``z``: ``(N, D)`` embeddings -> ``(N, D + extra)``."""
        p = F.normalize(F.avg_pool2d(x, self.pool).flatten(1), dim=1)
        return torch.cat([z, self.weight * p], dim=1) / math.sqrt(1.0 + self.weight**2)

    def config(self) -> dict[str, Any]:
        return {"weight": self.weight, "pool": self.pool}
