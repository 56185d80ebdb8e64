"""A small CNN for grey or colour images of any size."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class ConvNet(nn.Module):
    """Blocks of ``convs_per_block`` × (3×3 conv, batch norm, ReLU) then 2×2 max-pool; global average pool.

    Works for any input size of at least ``2 ** (len(widths) - 1)`` pixels a side (the last block
    is not pooled before the global pool). ``num_features`` is ``widths[-1]``.

    >>> ConvNet(in_channels=1)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 128])
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: Sequence[int] = (32, 64, 128),
        convs_per_block: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if in_channels < 1 or not widths or convs_per_block < 1 or not 0 <= dropout < 1:
            raise ValueError(
                "ConvNet needs in_channels >= 1, at least one width, convs_per_block >= 1 and 0 <= dropout < 1"
            )
        layers: list[nn.Module] = []
        cin = in_channels
        for i, w in enumerate(widths):
            for j in range(convs_per_block):
                layers += _conv_bn_relu(cin if j == 0 else w, w)
            cin = w
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        self.features = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.num_features = int(widths[-1])

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W) -> (N, num_features)``."""
        return self.features(x)
