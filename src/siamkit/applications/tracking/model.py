"""The SiamFC network: a shared backbone, cross-correlation as similarity, and its hyper-parameters.

Saved and loaded like every siamkit model (``siamkit.save_model`` / ``load_model``, kind
``"siamfc"``): ``model.safetensors`` + ``siamkit.json`` holding the backbone and the tracking
hyper-parameters (:class:`TrackerParams`).

>>> net = SiamFCNet("tiny")
>>> z, x = torch.rand(2, 3, 127, 127), torch.rand(2, 3, 255, 255)
>>> net(z, x).shape
torch.Size([2, 1, 17, 17])
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from siamkit.applications.tracking.backbones import TOTAL_STRIDE, create_backbone


@dataclass(frozen=True)
class TrackerParams:
    """SiamFC's tracking hyper-parameters (the paper's values for 3 scales by default)."""

    exemplar_size: int = 127
    instance_size: int = 255
    context: float = 0.5  # padding p = context * (w + h), exemplar side sqrt((w + p)(h + p))
    scale_num: int = 3
    scale_step: float = 1.0375
    scale_penalty: float = 0.9745
    scale_lr: float = 0.59
    window_influence: float = 0.176
    response_up: int = 16
    template_lr: float = 0.0  # 0: exemplar from the first frame only; else a slow running average

    def __post_init__(self) -> None:
        if self.scale_num < 1 or self.scale_num % 2 == 0:
            raise ValueError(f"scale_num must be odd and >= 1, got {self.scale_num}")
        if not 0 <= self.window_influence <= 1 or not 0 <= self.template_lr <= 1:
            raise ValueError("window_influence and template_lr must be in [0, 1]")
        if self.instance_size <= self.exemplar_size:
            raise ValueError("instance_size must be larger than exemplar_size")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackerParams:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(
                f"unknown tracker parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        return cls(**d)


def cross_correlation(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Correlate each exemplar map with its search map: ``(B, C, h, w), (B, C, H, W) -> (B, 1, H-h+1, W-w+1)``.

    One grouped convolution over the batch (Bertinetto et al.'s batched form). A single
    exemplar ``(1, C, h, w)`` is shared by every search map (the scale pyramid).
    """
    if z.shape[0] == 1 and x.shape[0] > 1:
        return F.conv2d(x, z)
    b, c, h, w = x.shape
    out = F.conv2d(x.reshape(1, b * c, h, w), z, groups=b)
    return out.reshape(b, 1, out.shape[-2], out.shape[-1])


class SiamFCNet(nn.Module):
    """Shared backbone + cross-correlation + a learned affine adjustment of the response."""

    kind = "siamfc"

    def __init__(
        self,
        backbone: str = "small",
        backbone_kwargs: dict[str, Any] | None = None,
        params: TrackerParams | None = None,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.backbone_kwargs = dict(backbone_kwargs or {})
        self.backbone = create_backbone(backbone, **self.backbone_kwargs)
        self.params = params or TrackerParams()
        c = self.backbone.num_features
        self.gain = nn.Parameter(torch.tensor(1.0 / (c * 36) ** 0.5 * 0.1))
        self.bias = nn.Parameter(torch.zeros(()))
        self.threshold: float | None = None

    @property
    def embedding_dim(self) -> int:
        return self.backbone.num_features

    @property
    def distance_name(self) -> str:
        return "cross_correlation"

    @property
    def total_stride(self) -> int:
        return TOTAL_STRIDE

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Feature maps of RGB crops in [0, 1]: ``(N, 3, H, W) -> (N, C, H', W')``."""
        return self.backbone(x)  # type: ignore[no-any-return]

    def response(self, z_feat: torch.Tensor, x_feat: torch.Tensor) -> torch.Tensor:
        """Response logits from feature maps: ``(B|1, C, 6, 6), (B, C, 22, 22) -> (B, 1, 17, 17)``."""
        return cross_correlation(z_feat, x_feat) * self.gain + self.bias

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Exemplar crops ``(B, 3, 127, 127)`` and search crops ``(B, 3, 255, 255)`` -> logits ``(B, 1, 17, 17)``."""
        return self.response(self.embed(z), self.embed(x))

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "backbone": self.backbone_name,
            "backbone_kwargs": self.backbone_kwargs,
            "tracker": asdict(self.params),
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> SiamFCNet:
        return cls(
            cfg["backbone"],
            cfg.get("backbone_kwargs"),
            TrackerParams.from_dict(cfg.get("tracker", {})),
        )


def save_tracker(
    net: SiamFCNet, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None
) -> Path:
    """``siamkit.save_model`` for a tracker (resolves the lazily registered ``siamfc`` kind first)."""
    from siamkit.export.bundle import save_model
    from siamkit.models.kinds import model_class

    model_class(SiamFCNet.kind)
    return save_model(net, path, metadata=metadata)  # type: ignore[arg-type]
