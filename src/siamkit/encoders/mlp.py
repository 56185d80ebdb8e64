"""A multi-layer perceptron encoder for feature vectors."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class MLPEncoder(nn.Module):
    """Linear → batch norm → ReLU (→ dropout) layers. ``num_features`` is ``hidden[-1]``.

    >>> import torch
    >>> MLPEncoder(16, hidden=(32, 32))(torch.zeros(4, 16)).shape
    torch.Size([4, 32])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (256, 256),
        dropout: float = 0.0,
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        if in_features < 1 or not hidden or any(h < 1 for h in hidden) or not 0 <= dropout < 1:
            raise ValueError(
                "MLPEncoder needs in_features >= 1, non-empty positive hidden sizes and 0 <= dropout < 1"
            )
        layers: list[nn.Module] = []
        cin = in_features
        for h in hidden:
            layers.append(nn.Linear(cin, h, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU(inplace=True))
            if dropout:
                layers.append(nn.Dropout(dropout))
            cin = h
        self.net = nn.Sequential(*layers)
        self.in_features = in_features
        self.num_features = int(hidden[-1])

    def forward(self, x: Tensor) -> Tensor:
        """``(N, in_features) -> (N, num_features)``."""
        return self.net(x)
