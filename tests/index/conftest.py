"""Fixtures for gallery and search tests: real Fashion-MNIST images and a small Siamese model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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


def make_model(seed: int = 0, dim: int = 32, distance: str = "euclidean") -> siamkit.SiameseNetwork:
    """An untrained, seeded convnet Siamese model on 28x28 grey images (behaviour, not accuracy)."""
    torch.manual_seed(seed)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1)
    pre = siamkit.models.Preprocess(mean=(0.286,), std=(0.353,), input_shape=(1, 28, 28))
    return siamkit.SiameseNetwork(
        encoder, embedding_dim=dim, distance=distance, preprocess=pre
    ).eval()


@pytest.fixture(scope="session")
def model() -> siamkit.SiameseNetwork:
    return make_model()


@pytest.fixture(scope="session")
def fmnist_embeddings(fmnist, model) -> np.ndarray:
    """Embeddings ``(300, 32)`` of the Fashion-MNIST images, computed once."""
    with torch.inference_mode():
        return model.embed(fmnist[0]).numpy()


def clustered(n: int, dim: int, centers: int = 20, noise: float = 0.1, seed: int = 0) -> np.ndarray:
    """``(n, dim)`` float32 points around random centres, like embeddings of ``centers`` classes."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, dim))
    x = c[rng.integers(0, centers, n)] + noise * rng.standard_normal((n, dim))
    return x.astype(np.float32)
