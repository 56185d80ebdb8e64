"""Helpers for the gallery and search tests, in a module of their own.

They are not in ``conftest.py`` because ``from conftest import ...`` gets whichever
``conftest`` pytest imported first when several test folders run together.
"""

from __future__ import annotations

import numpy as np
import torch

import siamkit


def make_model(seed: int = 0, dim: int = 32, distance: str = "euclidean") -> siamkit.SiameseNetwork:
    """An untrained, seeded convnet Siamese model on 28x28 grey images (behaviour, not accuracy)."""
    torch.manual_seed(seed)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1)
    pre = siamkit.models.Preprocess(mean=(0.286,), std=(0.353,), input_shape=(1, 28, 28))
    return siamkit.SiameseNetwork(
        encoder, embedding_dim=dim, distance=distance, preprocess=pre
    ).eval()


def clustered(n: int, dim: int, centers: int = 20, noise: float = 0.1, seed: int = 0) -> np.ndarray:
    """``(n, dim)`` float32 points around random centres, like embeddings of ``centers`` classes."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, dim))
    x = c[rng.integers(0, centers, n)] + noise * rng.standard_normal((n, dim))
    return x.astype(np.float32)
