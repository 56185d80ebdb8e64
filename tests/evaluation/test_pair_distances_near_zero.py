"""The pair distances ``siamkit calibrate`` (and ``evaluate``'s verification) fits and scores a
threshold on, against a float64 loop of ``|a - b|`` and against the pairwise distance that
``siamkit verify`` judges a pair by: two identical images are at 0 in both, within 1e-6."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.distances import get_distance
from siamkit.evaluation.pairs import n_pairs, pair_distances


def images_and_copies(n: int = 240, dim: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm embeddings of ``n / 2`` classes of two images each: a third of the classes an
    image given twice, the rest an image and a near-copy (1e-6 to 0.3 away)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((n, dim))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    z = z.astype(np.float32)
    step = (
        rng.standard_normal((n // 2, dim))
        / np.sqrt(dim)
        * 10.0 ** rng.uniform(-6, -0.5, (n // 2, 1))
    )
    step[::3] = 0
    z[1::2] = z[0::2] + step.astype(np.float32)
    return z, np.arange(n) // 2


def naive(z: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor distances of every pair ``i < j``, row-major, in float64."""
    z64 = z.astype(np.float64)
    genuine: list[float] = []
    impostor: list[float] = []
    for i in range(len(z)):
        for j in range(i + 1, len(z)):
            a, b = z64[i], z64[j]
            if name == "euclidean":
                d = float(np.sqrt(((a - b) ** 2).sum()))
            else:
                d = float(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
            (genuine if y[i] == y[j] else impostor).append(d)
    return np.array(genuine), np.array(impostor)


@pytest.mark.parametrize("name", ["euclidean", "cosine"])
def test_calibration_pairs_agree_with_verify_and_a_float64_loop(name: str) -> None:
    z, y = images_and_copies()
    assert n_pairs(len(z)) <= 300_000  # calibrate scores all pairs here (its --max-pairs)
    pd = pair_distances(z, y, name)
    genuine, impostor = naive(z, y, name)
    assert float(np.abs(pd.genuine - genuine).max()) < 1e-6
    assert float(np.abs(pd.impostor - impostor).max()) < 1e-6
    assert float(pd.genuine[::3].max()) < 1e-6  # the images given twice
    with torch.no_grad():  # siamkit verify's distance of each class's two images
        verify = get_distance(name).pairwise(torch.from_numpy(z[0::2]), torch.from_numpy(z[1::2]))
    assert float(np.abs(pd.genuine - verify.numpy()).max()) < 1e-6


def test_a_sample_of_pairs_gets_the_distances_all_pairs_give() -> None:
    """Over --max-pairs calibrate draws a sample, whose distances come from each pair's
    difference: a pair must get the same value whichever path scored it."""
    z, y = images_and_copies()
    whole = pair_distances(z, y, "euclidean")
    i, j = np.triu_indices(len(z), 1)  # row-major, as both paths order their pairs
    same = y[i] == y[j]
    every = np.empty(i.size, dtype=np.float32)
    every[same], every[~same] = whole.genuine, whole.impostor
    sample = pair_distances(z, y, "euclidean", max_pairs=20_000, seed=0)
    drawn = np.sort(np.random.default_rng(0).choice(i.size, size=20_000, replace=False))
    assert sample.genuine.size == int(same[drawn].sum())  # the pairs drawn, as the sample does
    assert float(np.abs(sample.genuine - every[drawn][same[drawn]]).max()) < 1e-6
    assert float(np.abs(sample.impostor - every[drawn][~same[drawn]]).max()) < 1e-6
