"""Appearance features: low-resolution input pixels or gradient histograms, joined to a learned
embedding by :class:`siamkit.models.JoinedEmbedding`.

Classes never seen in training often differ in coarse shape (an ankle boot vs a sneaker) that a
network trained to separate other classes learns to ignore. Joining an L2-normalised,
average-pooled copy of the input (or its HOG-like histograms) to the learned embedding keeps
that information:

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

APPEARANCE_FEATURES = ("pixels", "hog")
"""What :class:`AppearanceFeatures` computes (``features``; ``model.appearance.features``)."""


def _orientation_histograms(x: Tensor, bins: int, signed: bool) -> Tensor:
    """Per-pixel gradient magnitude softly assigned to ``bins`` orientation bins: ``(N, bins, H, W)``."""
    g = x.mean(dim=1, keepdim=True)
    k = torch.tensor(
        [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device
    )
    gx = F.conv2d(g, k.view(1, 1, 3, 3), padding=1)
    gy = F.conv2d(g, k.t().contiguous().view(1, 1, 3, 3), padding=1)
    mag = torch.sqrt(gx * gx + gy * gy + 1e-12)
    # atan2(0, 0) is 0 in torch but NaN in ONNX's atan2 (atan(y / x)): flat regions (a black
    # background) would poison exported embeddings. x = 1 there gives the same angle, 0.
    flat = (gx == 0) & (gy == 0)
    gx = torch.where(flat, torch.ones_like(gx), gx)
    period = 2 * math.pi if signed else math.pi
    angle = torch.remainder(torch.atan2(gy, gx), period) * (bins / period)  # in [0, bins)
    centers = torch.arange(bins, dtype=x.dtype, device=x.device).view(1, bins, 1, 1)
    d = (angle - centers).abs()
    d = torch.minimum(d, bins - d)
    return mag * F.relu(1 - d)


def hog_features(
    x: Tensor, bins: int = 12, cell: int = 7, signed: bool = False, levels: int = 1
) -> Tensor:
    """Parameter-free HOG-like features: Sobel gradients, orientations softly assigned to ``bins``
    bins (over 180° unsigned, or 360° ``signed``: light-to-dark and dark-to-light edges apart),
    gradient magnitude averaged per ``cell``×``cell`` cell, square-rooted and L2-normalised.

    ``levels > 1`` is a spatial pyramid: level ``l`` uses cells of ``cell * 2**l`` pixels; each
    level is L2-normalised on its own and the levels are joined with equal weight (unit length).
    ``(N, C, H, W)`` in ``[0, 1]`` (channels averaged) -> ``(N, bins * sum_l (H // c_l) * (W // c_l))``.
    """
    hist = _orientation_histograms(x, bins, signed)
    parts = [
        F.normalize(F.avg_pool2d(hist, cell * 2**lvl).flatten(1).clamp_min(0).sqrt(), dim=1)
        for lvl in range(levels)
    ]
    return parts[0] if levels == 1 else torch.cat(parts, dim=1) / math.sqrt(levels)


class AppearanceFeatures(nn.Module):
    """Parameter-free, unit-length appearance features of ``(N, C, H, W)`` images in ``[0, 1]``.

    ``features="pixels"``: ``pool``×``pool`` average-pooled pixels; ``features="hog"``: HOG-like
    gradient-orientation histograms (``bins`` orientations per ``pool``×``pool`` cell; ``signed``
    orientations over 360°; ``levels`` > 1 adds coarser cells of ``2 * pool``, ``4 * pool``, ...
    pixels, see :func:`hog_features`). :class:`siamkit.models.JoinedEmbedding` joins them to a
    network's embedding.

    >>> features = AppearanceFeatures(pool=4)
    >>> features.extra_dim((1, 28, 28))
    49
    >>> features(torch.rand(2, 1, 28, 28)).norm(dim=1).round(decimals=4)
    tensor([1., 1.])
    """

    def __init__(
        self,
        pool: int = 4,
        features: str = "pixels",
        bins: int = 12,
        signed: bool = False,
        levels: int = 1,
    ) -> None:
        super().__init__()
        if features not in APPEARANCE_FEATURES:
            raise ValueError(f"appearance features are 'pixels' or 'hog', got {features!r}")
        if bins < 2:
            raise ValueError(f"bins must be at least 2, got {bins}")
        if levels < 1 or (levels > 1 and features != "hog"):
            raise ValueError(f"levels must be at least 1 (and > 1 only with 'hog'), got {levels}")
        if pool < 1:
            raise ValueError(f"pool must be at least 1, got {pool}")
        self.features, self.bins = features, int(bins)
        self.signed, self.levels, self.pool = bool(signed), int(levels), int(pool)

    def extra_dim(self, input_shape: Sequence[int] | None) -> int:
        """How many values the features have for inputs of ``input_shape`` = ``(C, H, W)``."""
        if input_shape is None or len(input_shape) != 3:
            raise ValueError(
                "appearance features need image inputs with a known input_shape (C, H, W); "
                f"got {input_shape}"
            )
        c, h, w = input_shape
        coarsest = self.pool * 2 ** (self.levels - 1)
        if h < coarsest or w < coarsest:
            raise ValueError(
                f"images of {h}×{w} pixels are smaller than the pooling window {coarsest}"
            )
        if self.features == "pixels":
            return int(c * (h // self.pool) * (w // self.pool))
        cells = sum(
            (h // (self.pool * 2**k)) * (w // (self.pool * 2**k)) for k in range(self.levels)
        )
        return int(self.bins * cells)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)`` in ``[0, 1]`` -> ``(N, extra)`` unit-length features."""
        if self.features == "hog":
            return hog_features(x, self.bins, self.pool, self.signed, self.levels)
        return F.normalize(F.avg_pool2d(x, self.pool).flatten(1), dim=1)

    def config(self) -> dict[str, Any]:
        """The constructor's arguments as JSON values: ``AppearanceFeatures(**f.config())`` builds
        the same features (a saved :class:`~siamkit.models.JoinedEmbedding` keeps them)."""
        return {
            "pool": self.pool,
            "features": self.features,
            "bins": self.bins,
            "signed": self.signed,
            "levels": self.levels,
        }


def join_features(z: Tensor, features: Tensor, weight: float) -> Tensor:
    """``[z ; weight * features] / sqrt(1 + weight**2)``: ``(N, D), (N, E) -> (N, D + E)``,
    unit length when both parts are."""
    return torch.cat([z, weight * features], dim=1) / math.sqrt(1.0 + weight**2)
