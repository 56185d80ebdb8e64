"""The embedding head: a projection (optionally through hidden layers) then L2 normalisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class EmbeddingHead(nn.Module):
    """Project ``(N, in_features)`` features to ``(N, embedding_dim)`` and L2-normalise (switchable).

    >>> EmbeddingHead(128, 64)(torch.randn(3, 128)).norm(dim=1)
    tensor([1.0000, 1.0000, 1.0000], grad_fn=<LinalgVectorNormBackward0>)

    ``passthrough`` > 0: the last ``passthrough`` input features (an encoder's multi-level taps,
    e.g. :class:`~siamkit.encoders.ConvNet` ``taps``) are not projected but joined to the
    normalised projection, and the whole is L2-normalised again: ``(N, embedding_dim +
    passthrough)`` (``out_dim``). Needs ``normalize``.
    """

    def __init__(
        self,
        in_features: int,
        embedding_dim: int = 64,
        hidden: Sequence[int] = (),
        normalize: bool = True,
        dropout: float = 0.0,
        passthrough: int = 0,
    ) -> None:
        super().__init__()
        if in_features < 1 or embedding_dim < 1 or any(h < 1 for h in hidden):
            raise ValueError(
                f"EmbeddingHead sizes must be positive, got in_features={in_features}, "
                f"embedding_dim={embedding_dim}, hidden={tuple(hidden)}"
            )
        if not 0 <= passthrough < in_features or (passthrough and not normalize):
            raise ValueError(
                f"EmbeddingHead passthrough must be in 0..{in_features - 1} and needs normalize, "
                f"got passthrough={passthrough}, normalize={normalize}"
            )
        self.passthrough = int(passthrough)
        layers: list[nn.Module] = []
        cin = in_features - self.passthrough
        for h in hidden:
            layers += [nn.Linear(cin, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            cin = h
        layers.append(nn.Linear(cin, embedding_dim))
        self.proj = nn.Sequential(*layers)
        self.in_features, self.embedding_dim = in_features, embedding_dim
        self.hidden, self.normalize, self.dropout = tuple(hidden), normalize, dropout

    def forward(self, x: Tensor) -> Tensor:
        """``(N, in_features) -> (N, out_dim)``."""
        if self.passthrough:
            deep, taps = x[:, : -self.passthrough], x[:, -self.passthrough :]
            return F.normalize(torch.cat([F.normalize(self.proj(deep), dim=1), taps], dim=1), dim=1)
        z = self.proj(x)
        return F.normalize(z, dim=1) if self.normalize else z

    @property
    def out_dim(self) -> int:
        """Size of the output: ``embedding_dim`` plus the passed-through features."""
        return self.embedding_dim + self.passthrough

    def config(self) -> dict[str, Any]:
        """The head's settings as JSON values: ``embedding_dim``, ``hidden``, ``normalize`` and
        ``dropout`` (a saved model keeps them under ``"head"``; ``in_features`` and
        ``passthrough`` come from the encoder when it is rebuilt)."""
        return {
            "embedding_dim": self.embedding_dim,
            "hidden": list(self.hidden),
            "normalize": self.normalize,
            "dropout": self.dropout,
        }
