"""Fixtures for the edge-export tests: real Fashion-MNIST images and small saved models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import siamkit
from siamkit.models import Preprocess

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

FMNIST_MEAN, FMNIST_STD = (0.286,), (0.353,)


def _fmnist(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from siamkit.data.fashion_mnist import load_fashion_mnist

    try:
        return load_fashion_mnist(split)
    except FileNotFoundError as err:  # pragma: no cover - the data package is installed here
        pytest.skip(f"Fashion-MNIST not available: {err}")


@pytest.fixture(scope="session")
def fmnist_images() -> np.ndarray:
    """256 real test images of the unseen classes 6-9, ``(256, 1, 28, 28)`` floats in [0, 1]."""
    x, y = _fmnist("test")
    keep = torch.nonzero(y >= 6).flatten()[:256]
    return (x[keep].unsqueeze(1).float() / 255.0).numpy()


@pytest.fixture(scope="session")
def calib_images() -> np.ndarray:
    """300 training images of classes 0-5 (the protocol's training classes)."""
    from siamkit.export.calibration import calibration_images

    return calibration_images("fashion-mnist", (1, 28, 28), count=300, classes=range(6))


def make_convnet(
    widths: tuple[int, ...] = (16, 32, 64), distance: str = "euclidean"
) -> siamkit.SiameseNetwork:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=list(widths))
    prep = Preprocess(mean=FMNIST_MEAN, std=FMNIST_STD, input_shape=(1, 28, 28))
    return siamkit.SiameseNetwork(enc, embedding_dim=32, distance=distance, preprocess=prep)


def warm_batch_norm(net: torch.nn.Module, images: np.ndarray) -> None:
    """Give batch norm real running statistics (untrained weights, but not identity BN)."""
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net.embed(torch.from_numpy(images[:128]))
    net.eval()


@pytest.fixture(scope="session")
def model_factory() -> Callable[..., siamkit.SiameseNetwork]:
    """``model_factory(images=None, **kw)``: a small convnet, batch norm warmed on ``images``."""

    def build(images: np.ndarray | None = None, **kw: Any) -> siamkit.SiameseNetwork:
        net = make_convnet(**kw)
        if images is not None:
            warm_batch_norm(net, images)
        return net.eval()

    return build


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, fmnist_images: np.ndarray) -> Path:
    """A saved convnet model folder with a threshold and warmed batch norm (not trained)."""
    torch.manual_seed(1)
    net = make_convnet()
    warm_batch_norm(net, fmnist_images)
    return siamkit.save_model(net, tmp_path_factory.mktemp("edge") / "model", threshold=0.75)


@pytest.fixture(scope="module")
def exported(bundle: Path) -> Path:
    """``bundle`` with ``model.onnx`` exported into it."""
    from siamkit.export.onnx import export_onnx

    return export_onnx(bundle).path
