"""A ResNet-18-style network in plain torch (no torchvision)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection (He et al., 2016)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet with basic blocks: ``layers=(2, 2, 2, 2)`` is ResNet-18.

    ``stem="imagenet"`` (7×7 stride-2 conv + max-pool) suits images of about 100 px and more;
    ``stem="small"`` (one 3×3 conv) suits small images such as 28×28 or 32×32.

    >>> ResNet(in_channels=3, stem="small", widths=(16, 32), layers=(1, 1))(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 32])
    """

    def __init__(
        self,
        in_channels: int = 3,
        layers: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
    ) -> None:
        super().__init__()
        if len(layers) != len(widths) or not layers:
            raise ValueError(
                f"layers and widths must have the same non-zero length, got {layers} and {widths}"
            )
        if stem not in ("imagenet", "small"):
            raise ValueError(f"stem must be 'imagenet' or 'small', got {stem!r}")
        w0 = widths[0]
        if stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, w0, 7, 2, 3, bias=False),
                nn.BatchNorm2d(w0),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2, 1),
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, w0, 3, 1, 1, bias=False),
                nn.BatchNorm2d(w0),
                nn.ReLU(inplace=True),
            )
        blocks: list[nn.Module] = []
        cin = w0
        for i, (n, w) in enumerate(zip(layers, widths)):
            for j in range(n):
                blocks.append(BasicBlock(cin, w, stride=2 if (j == 0 and i > 0) else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.in_channels = in_channels
        self.num_features = int(widths[-1])

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W) -> (N, num_features)``."""
        return self.pool(self.blocks(self.stem(x)))
