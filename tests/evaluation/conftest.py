"""Real-ish data for evaluation tests: sklearn digits features and seeded Gaussian clusters."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, np.ndarray]:
    """1,797 digit images as (N, 64) float features in [0, 1] and their labels 0-9."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return torch.tensor(data.data / 16.0, dtype=torch.float32), data.target.astype(np.int64)


def gaussian_clusters(
    n_classes: int = 4, per_class: int = 50, dim: int = 16, spread: float = 1.0, seed: int = 0
) -> tuple[torch.Tensor, np.ndarray]:
    """Overlapping Gaussian clusters: (N, dim) float64 embeddings and their labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, dim)) * spread
    labels = np.repeat(np.arange(n_classes), per_class)
    z = centers[labels] + rng.normal(size=(labels.size, dim))
    return torch.from_numpy(z), labels


@pytest.fixture()
def clusters() -> tuple[torch.Tensor, np.ndarray]:
    return gaussian_clusters()


@pytest.fixture()
def make_clusters():
    """The :func:`gaussian_clusters` factory, for tests that need other sizes."""
    return gaussian_clusters
