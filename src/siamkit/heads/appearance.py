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


def hog_features(x: Tensor, bins: int = 12, cell: int = 7) -> Tensor:
    """Parameter-free HOG-like features: Sobel gradients, unsigned orientations softly assigned to
    ``bins`` bins, gradient magnitude averaged per ``cell``×``cell`` cell, square-rooted and
    L2-normalised. ``(N, C, H, W)`` in ``[0, 1]`` (channels averaged) -> ``(N, bins * (H // cell) * (W // cell))``.
    """
    g = x.mean(dim=1, keepdim=True)
    k = torch.tensor(
        [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device
    )
    gx = F.conv2d(g, k.view(1, 1, 3, 3), padding=1)
    gy = F.conv2d(g, k.t().contiguous().view(1, 1, 3, 3), padding=1)
    mag = torch.sqrt(gx * gx + gy * gy + 1e-12)
    angle = torch.remainder(torch.atan2(gy, gx), math.pi) * (
        bins / math.pi
    )  # (N, 1, H, W) in [0, bins)
    centers = torch.arange(bins, dtype=x.dtype, device=x.device).view(1, bins, 1, 1)
    d = (angle - centers).abs()
    d = torch.minimum(d, bins - d)
    hist = mag * F.relu(1 - d)  # (N, bins, H, W)
    return F.normalize(F.avg_pool2d(hist, cell).flatten(1).clamp_min(0).sqrt(), dim=1)


class AppearanceSkip(nn.Module):
    """Join ``w``-weighted appearance features of the input to an embedding.

    ``features="pixels"``: ``pool``×``pool`` average-pooled pixels; ``features="hog"``: HOG-like
    gradient-orientation histograms (``bins`` orientations per ``pool``×``pool`` cell).

    >>> skip = AppearanceSkip(weight=1.0, pool=4)
    >>> skip.extra_dim((1, 28, 28))
    49
    >>> skip(torch.rand(2, 1, 28, 28), torch.nn.functional.normalize(torch.randn(2, 8))).norm(dim=1)
    tensor([1.0000, 1.0000])
    """

    def __init__(
        self, weight: float = 1.0, pool: int = 4, features: str = "pixels", bins: int = 12
    ) -> None:
        super().__init__()
        if features not in ("pixels", "hog"):
            raise ValueError(f"appearance features are 'pixels' or 'hog', got {features!r}")
        if bins < 2:
            raise ValueError(f"bins must be at least 2, got {bins}")
        self.features, self.bins = features, int(bins)
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
        cells = (h // self.pool) * (w // self.pool)
        return int(self.bins * cells if self.features == "hog" else c * cells)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        """``x``: ``(N, C, H, W)`` input in ``[0, 1]``; ``z``: ``(N, D)`` embeddings -> ``(N, D + extra)``."""
        if self.features == "hog":
            p = hog_features(x, self.bins, self.pool)
        else:
            p = F.normalize(F.avg_pool2d(x, self.pool).flatten(1), dim=1)
        return torch.cat([z, self.weight * p], dim=1) / math.sqrt(1.0 + self.weight**2)

    def config(self) -> dict[str, Any]:
        return {
            "weight": self.weight,
            "pool": self.pool,
            "features": self.features,
            "bins": self.bins,
        }
