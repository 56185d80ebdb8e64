"""A tiny image half-twin built in Python: two convnets, f over 12x12 grey images and g over 8x8
ones (the half-twin CLI and service tests share it)."""

from __future__ import annotations

import torch

import siamkit
from siamkit.models import HalfTwinNetwork, Preprocess


def tiny_half_twin() -> HalfTwinNetwork:
    """The half-twin in eval mode, its weights from seed 0, no threshold."""
    torch.manual_seed(0)
    conv = lambda: siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))  # noqa: E731
    net = HalfTwinNetwork(
        conv(),
        conv(),
        embedding_dim=4,
        preprocess_f=Preprocess(input_shape=(1, 12, 12)),
        preprocess_g=Preprocess(input_shape=(1, 8, 8)),
    )
    return net.eval()
