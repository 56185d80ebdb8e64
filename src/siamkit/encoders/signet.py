"""A SigNet-like CNN for grayscale signatures (Dey et al. 2017), with a small CPU default.

SigNet: conv 11×11/96 (stride 1), LRN, pool; conv 5×5/256, LRN, pool; conv 3×3/384; conv 3×3/256,
pool; fully connected 1024 and 128. Here batch norm replaces LRN, the first convolution has a
stride (``stem_stride``) so that 155×220 inputs are affordable, and an adaptive average pool to a
small ``grid`` before the fully connected layer makes any input size work while keeping where the
strokes are (a global pool would keep only which strokes there are). ``SigNet(widths=(96, 256, 384, 256),
fc=1024, stem_stride=1)`` is the published shape; the default is about 80× cheaper.

>>> import torch
>>> SigNet()(torch.zeros(2, 1, 155, 220)).shape
torch.Size([2, 128])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.encoders.convnet import cell_means


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


def _exporting() -> bool:
    """Whether the module is being traced to ONNX (either exporter) or by ``torch.export``."""
    is_exporting = getattr(torch.compiler, "is_exporting", None)  # torch >= 2.6
    return bool(torch.onnx.is_in_onnx_export() or (is_exporting is not None and is_exporting()))


class GridAvgPool2d(nn.AdaptiveAvgPool2d):
    """:class:`torch.nn.AdaptiveAvgPool2d` to ``(rows, columns)`` that exports to ONNX.

    Eager PyTorch runs ``nn.AdaptiveAvgPool2d`` itself (the same numbers, no weights, so models
    saved with it load unchanged); an ONNX export traces the same cells as average pooling or
    slices (:func:`~siamkit.encoders.convnet.cell_means`), which the torchscript exporter takes
    where the grid does not divide the feature map (it refuses ``adaptive_avg_pool2d`` there) and
    which the dynamo exporter reproduces.

    >>> GridAvgPool2d((3, 4))(torch.rand(1, 2, 8, 12)).shape
    torch.Size([1, 2, 3, 4])
    """

    def __init__(self, output_size: tuple[int, int]) -> None:
        super().__init__((int(output_size[0]), int(output_size[1])))

    def forward(self, input: Tensor) -> Tensor:
        rows, cols = cast(tuple[int, int], self.output_size)  # two ints, as __init__ set them
        if _exporting():
            return cell_means(input, rows, cols)
        return F.adaptive_avg_pool2d(input, (rows, cols))


class SigNet(nn.Module):
    """SigNet's four convolutions (11, 5, 3, 3) with pooling, then a fully connected layer.

    Args:
        in_channels: 1 for grayscale signatures.
        widths: channels of the four convolutions.
        fc: width of the fully connected layer (``num_features``).
        stem_stride: stride of the 11×11 convolution (SigNet: 1).
        dropout: dropout before the fully connected layer (SigNet: 0.5).
        grid: ``(rows, columns)`` of the pooled feature map the fully connected layer reads.
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: Sequence[int] = (16, 32, 48, 64),
        fc: int = 128,
        stem_stride: int = 2,
        dropout: float = 0.0,
        grid: Sequence[int] = (3, 4),
    ) -> None:
        super().__init__()
        if in_channels < 1 or len(widths) != 4 or min(widths) < 1 or fc < 1 or stem_stride < 1:
            raise ValueError(
                "SigNet needs in_channels >= 1, four positive widths, fc >= 1 and stem_stride >= 1"
            )
        if len(grid) != 2 or min(grid) < 1:
            raise ValueError(f"grid must be two positive integers, got {list(grid)}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        c1, c2, c3, c4 = (int(w) for w in widths)
        self.features = nn.Sequential(
            *_conv(in_channels, c1, 11, stem_stride),
            nn.MaxPool2d(3, 2),
            *_conv(c1, c2, 5),
            nn.MaxPool2d(3, 2),
            *_conv(c2, c3, 3),
            *_conv(c3, c4, 3),
            nn.MaxPool2d(3, 2),
            GridAvgPool2d((int(grid[0]), int(grid[1]))),
            nn.Flatten(),
        )
        flat = c4 * int(grid[0]) * int(grid[1])
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(flat, fc), nn.ReLU(inplace=True))
        self.in_channels = in_channels
        self.num_features = int(fc)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W) -> (N, fc)``; H and W of at least about ``16 * stem_stride`` pixels."""
        return self.fc(self.features(x))  # type: ignore[no-any-return]
