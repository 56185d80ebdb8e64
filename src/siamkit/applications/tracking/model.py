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
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from siamkit.applications.tracking.backbones import TOTAL_STRIDE, create_backbone
from siamkit.applications.tracking.params import TrackerParams, read_saved_sizes

__all__ = ["SiamFCNet", "TrackerParams", "cross_correlation", "save_tracker"]


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
        """Channels of the feature maps ``embed`` returns (the backbone's)."""
        return self.backbone.num_features

    @property
    def distance(self) -> str:
        """``"cross_correlation"``: an exemplar's feature map is slid over a search region's
        (:meth:`response`); it is not a siamkit ``Distance`` between two embedding vectors."""
        return "cross_correlation"

    @property
    def distance_name(self) -> str:
        """``"cross_correlation"``, as :attr:`distance`."""
        return self.distance

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """``None``: exemplar (127 x 127) and search (255 x 255) crops differ in size."""
        return None

    @property
    def total_stride(self) -> int:
        """Input pixels per feature-map cell (8)."""
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

    def embed_numpy(self, crops: np.ndarray) -> torch.Tensor:
        """The tracker's entry: crops ``(N, 3, H, W)`` float32 in [0, 1] -> feature maps (no gradients)."""
        device = next(self.parameters()).device
        with torch.no_grad():
            return self.embed(torch.from_numpy(crops).to(device))

    def response_numpy(self, kernel: torch.Tensor, feats: torch.Tensor) -> np.ndarray:
        """The tracker's entry: response logits ``(S, n, n)`` as a NumPy array."""
        with torch.no_grad():
            return self.response(kernel, feats)[:, 0].cpu().numpy()  # type: ignore[no-any-return]

    def config(self) -> dict[str, Any]:
        """The JSON-ready description :func:`siamkit.save_model` stores and :meth:`from_config`
        reads: backbone name and arguments, and the tracker parameters."""
        return {
            "kind": self.kind,
            "backbone": self.backbone_name,
            "backbone_kwargs": self.backbone_kwargs,
            "tracker": asdict(self.params),
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> SiamFCNet:
        """Rebuild the network (untrained weights) from :meth:`config`; an ``instance_size`` off
        the backbones' grid (a model trained before it was refused) is read as one on it (the
        nearest smaller one; a gap under one stride is widened to two response cells), with a
        warning (:func:`~.params.read_saved_sizes`)."""
        tracker = read_saved_sizes(cfg.get("tracker", {}), "the saved tracker's siamkit.json")
        return cls(cfg["backbone"], cfg.get("backbone_kwargs"), TrackerParams.from_dict(tracker))


def save_tracker(
    net: SiamFCNet, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None
) -> Path:
    """``siamkit.save_model`` for a tracker (resolves the lazily registered ``siamfc`` kind first)."""
    from siamkit.export.bundle import save_model
    from siamkit.models.kinds import model_class

    model_class(SiamFCNet.kind)
    return save_model(net, path, metadata=metadata)  # type: ignore[arg-type]
