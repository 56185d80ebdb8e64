"""A small CNN for grey or colour images of any size."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


def cell_means(h: Tensor, rows: int, cols: int) -> Tensor:
    """``F.adaptive_avg_pool2d(h, (rows, cols))`` (cell i spans map rows floor(i H / rows) ..
    ceil((i + 1) H / rows), and likewise for columns), written with average pooling or slices so
    that the ONNX exporter takes it when the grid does not divide the map (14 x 14 in 4 x 4 cells,
    SigNet's 8 x 12 in 3 x 4): the torchscript exporter refuses such an adaptive pool and the
    dynamo exporter's stand-in differs from torch. Equal to torch's up to float rounding."""
    height, width = int(h.shape[-2]), int(h.shape[-1])
    if height % rows == 0 and width % cols == 0:
        return F.avg_pool2d(h, (height // rows, width // cols))
    r = [((i * height) // rows, -(-(i + 1) * height // rows)) for i in range(rows)]
    c = [((j * width) // cols, -(-(j + 1) * width // cols)) for j in range(cols)]
    cells = [h[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for r0, r1 in r for c0, c1 in c]
    return torch.stack(cells, dim=2).unflatten(2, (rows, cols))


class ConvNet(nn.Module):
    """Blocks of ``convs_per_block`` × (3×3 conv, batch norm, ReLU) then 2×2 max-pool; global average pool.

    Works for any input size of at least ``2 ** (len(widths) - 1)`` pixels a side (the last block
    is not pooled before the global pool). ``num_features`` is ``widths[-1]``.

    >>> ConvNet(in_channels=1)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 128])

    **Multi-level ("hypercolumn") output.** ``taps`` names blocks (0-based) whose output (after
    the block's last ReLU, before its max-pool) is also average-pooled over a ``g``×``g`` grid of
    spatial cells for each ``g`` in ``tap_grids``, raised to ``tap_power`` (0.5: square root, as
    HOG's cells are), flattened and L2-normalised (each tap and grid on its own); the parts are
    joined with equal share and scaled so that together they have length ``tap_weight``. They
    follow the globally pooled deep features in the output, and ``num_passthrough`` says how many
    there are: :class:`~siamkit.heads.EmbeddingHead` passes them through unprojected, so the
    embedding is ``normalize([normalize(proj(deep)) ; taps])``. Early conv layers are generic
    (oriented edges, blobs) and transfer to classes never trained on better than the deep ones;
    pooling them in cells keeps *where* the edges are, which the global pool throws away. The
    taps add no weights, so a network trained without them loads into one with them.

    ``tap_train=False`` keeps the taps out of training: in training mode they are zeros, so the
    head's output, the loss and the mining are exactly those of the network without taps, and
    the taps (of the early layers the deep loss trained) join only in eval mode, when embedding.

    >>> net = ConvNet(in_channels=1, taps=(0,), tap_grids=(4,))
    >>> net.num_passthrough, net(torch.zeros(2, 1, 28, 28)).shape
    (512, torch.Size([2, 640]))
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: Sequence[int] = (32, 64, 128),
        convs_per_block: int = 1,
        dropout: float = 0.0,
        taps: Sequence[int] = (),
        tap_grids: Sequence[int] = (4,),
        tap_weight: float = 1.0,
        tap_power: float = 1.0,
        tap_train: bool = True,
    ) -> None:
        super().__init__()
        if in_channels < 1 or not widths or convs_per_block < 1 or not 0 <= dropout < 1:
            raise ValueError(
                "ConvNet needs in_channels >= 1, at least one width, convs_per_block >= 1 and 0 <= dropout < 1"
            )
        bad_taps = [t for t in taps if not 0 <= int(t) < len(widths)]
        if bad_taps or len(set(taps)) != len(taps):
            raise ValueError(
                f"ConvNet taps must be distinct block indices in 0..{len(widths) - 1}, got {list(taps)}"
            )
        if taps and (
            not tap_grids
            or any(int(g) < 1 for g in tap_grids)
            or not tap_weight > 0
            or not 0 < tap_power <= 1
        ):
            raise ValueError(
                "ConvNet taps need tap_grids of positive sizes, tap_weight > 0 and 0 < tap_power <= 1, "
                f"got tap_grids={list(tap_grids)}, tap_weight={tap_weight}, tap_power={tap_power}"
            )
        layers: list[nn.Module] = []
        block_ends: list[int] = []  # index in `features` of each block's last ReLU
        cin = in_channels
        for i, w in enumerate(widths):
            for j in range(convs_per_block):
                layers += _conv_bn_relu(cin if j == 0 else w, w)
            block_ends.append(len(layers) - 1)
            cin = w
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        self.features = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.taps = tuple(sorted(int(t) for t in taps))
        self.tap_grids = tuple(int(g) for g in tap_grids)
        self.tap_weight, self.tap_power = float(tap_weight), float(tap_power)
        self.tap_train = bool(tap_train)
        self._tap_at = {block_ends[t]: widths[t] for t in self.taps}
        self.num_passthrough = sum(
            int(w) * g * g for w in self._tap_at.values() for g in self.tap_grids
        )
        self.num_features = int(widths[-1]) + self.num_passthrough

    def tap_features(self, h: Tensor) -> list[Tensor]:
        """One tapped block output ``(N, C, H, W)`` -> its L2-normalised cell features per grid."""
        out = []
        for g in self.tap_grids:
            cells = cell_means(h, g, g)
            if (
                self.tap_power != 1.0
            ):  # ReLU outputs are >= 0; the epsilon keeps the gradient finite
                cells = (cells + 1e-6).pow(self.tap_power)
            out.append(F.normalize(cells.flatten(1), dim=1))
        return out

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W) -> (N, num_features)``: the deep features, then the taps (if any)."""
        if not self.taps:
            return self.features(x)  # type: ignore[no-any-return]
        if self.training and not self.tap_train:  # taps only when embedding: zeros in training
            deep = self.features(x)
            return torch.cat([deep, deep.new_zeros(deep.shape[0], self.num_passthrough)], dim=1)
        parts: list[Tensor] = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._tap_at:
                parts += self.tap_features(x)
        scale = self.tap_weight / math.sqrt(len(parts))
        return torch.cat([x, *(p * scale for p in parts)], dim=1)
