"""Fully-convolutional backbones for SiamFC (total stride 8; 127 px -> 6×6, 255 px -> 22×22).

``alexnet``: the AlexNet-like network of Bertinetto et al. 2016 (96-256-384-384-256 channels,
batch norm, no padding). ``small``: the same stride and output sizes from a 7×7 stride-4 stem,
a stride-2 convolution and depthwise-separable layers (about 40 M multiply-adds per 255 crop vs
AlexNet's 2.5 G), for real-time tracking on a CPU. ``tiny``: a narrower ``small`` for tests.
Build one with :func:`create_backbone`.

>>> net = create_backbone("small")
>>> net(torch.zeros(1, 3, 127, 127)).shape
torch.Size([1, 64, 6, 6])
>>> net(torch.zeros(1, 3, 255, 255)).shape
torch.Size([1, 64, 22, 22])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from siamkit.clauses import in_number

TOTAL_STRIDE = 8

_WIDTHS: dict[str, tuple[int, ...]] = {
    "alexnet": (96, 256, 384, 384, 256),
    "small": (16, 32, 64, 64),
    "tiny": (8, 16, 16, 16),
}


def _conv(
    cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True
) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return layers


def _separable(cin: int, cout: int, k: int, act: bool = True) -> list[nn.Module]:
    dw = [
        nn.Conv2d(cin, cin, k, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU(inplace=True),
    ]
    pw: list[nn.Module] = [nn.Conv2d(cin, cout, 1, bias=not act)]
    if act:
        pw += [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return dw + pw


class SiamFCBackbone(nn.Module):
    """Fully-convolutional feature extractor of total stride 8. ``(N, 3, H, W) -> (N, C, H', W')``.

    Input is RGB in [0, 1]; it is standardised inside. ``H' = (H - 87) / 8 + 1``. Five widths
    build the AlexNet-like network; four build the fast one (see the module docstring).
    """

    def __init__(self, widths: Sequence[int] = _WIDTHS["alexnet"]) -> None:
        super().__init__()
        if len(widths) not in (4, 5) or min(widths) < 1:
            raise ValueError(f"a SiamFC backbone needs 4 or 5 positive widths, got {list(widths)}")
        self.widths = tuple(int(w) for w in widths)
        if len(self.widths) == 5:
            c1, c2, c3, c4, c5 = self.widths
            layers = [
                *_conv(3, c1, 11, 2),
                nn.MaxPool2d(3, 2),
                *_conv(c1, c2, 5),
                nn.MaxPool2d(3, 2),
                *_conv(c2, c3, 3),
                *_conv(c3, c4, 3),
                nn.Conv2d(c4, c5, 3),  # no norm / activation on the embedding
            ]
        else:
            c1, c2, c3, c4 = self.widths
            layers = [
                *_conv(3, c1, 7, 4),
                *_conv(c1, c2, 3, 2),
                *_conv(c2, c3, 3),
                *_separable(c3, c3, 3),
                *_separable(c3, c3, 3),
                *_separable(c3, c4, 4, act=False),
            ]
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    @property
    def num_features(self) -> int:
        """Channels of the feature maps the backbone returns."""
        return self.widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        return self.features((x - mean) / std)  # type: ignore[no-any-return]


def backbone_names() -> list[str]:
    """Names accepted by :func:`create_backbone`."""
    return sorted(_WIDTHS)


def create_backbone(name: str, **kwargs: Any) -> SiamFCBackbone:
    """A backbone by name; ``widths=(c1, ..., c5)`` overrides its channel counts."""
    if name not in _WIDTHS:
        raise ValueError(
            f"unknown tracker backbone {name!r}; choose one of {', '.join(backbone_names())}"
        )
    unknown = set(kwargs) - {"widths"}
    if unknown:
        raise TypeError(
            f"tracker backbone {name!r} has no {in_number(len(unknown), 'argument')} "
            f"{', '.join(sorted(unknown))}"
        )
    return SiamFCBackbone(kwargs.get("widths", _WIDTHS[name]))
