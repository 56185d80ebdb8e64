"""A tiny image half-twin built in Python: two convnets, f over 12x12 grey images and g over 8x8
ones, and the random grey PNGs fed to it (the half-twin CLI and service tests share both)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

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


def grey_png(side: int, seed: int) -> bytes:
    """A side x side grey PNG of uniform random pixels from ``seed`` (the same bytes each call)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def write_grey_png(path: Path, side: int, seed: int) -> str:
    """``grey_png(side, seed)`` written to ``path``; returns the path as a string."""
    path.write_bytes(grey_png(side, seed))
    return str(path)
