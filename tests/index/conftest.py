"""Fixtures for gallery and search tests: real Fashion-MNIST images and a small Siamese model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _index_helpers import make_model

import siamkit


@pytest.fixture(scope="session")
def fmnist() -> tuple[torch.Tensor, np.ndarray]:
    """The first 300 Fashion-MNIST test images ``(300, 1, 28, 28)`` in [0, 1] and their labels."""
    from siamkit.data.fashion_mnist import load_fashion_mnist

    try:
        images, labels = load_fashion_mnist("test")
    except FileNotFoundError:  # pragma: no cover - the data package is installed here
        pytest.skip("Fashion-MNIST is not available")
    x = images[:300].float().div(255).unsqueeze(1)
    return x, labels[:300].numpy()


@pytest.fixture(scope="session")
def model() -> siamkit.SiameseNetwork:
    return make_model()


@pytest.fixture(scope="session")
def fmnist_embeddings(fmnist, model) -> np.ndarray:
    """Embeddings ``(300, 32)`` of the Fashion-MNIST images, computed once."""
    with torch.inference_mode():
        return model.embed(fmnist[0]).numpy()
