"""The normalisation statistics of a run read its first 20,000 training images, which for an image
folder (its images in class order) are its first classes only: a folder whose later classes are
brighter was normalised by the dark ones' mean and spread (reviewer s53_c6 finding 4). Past 20,000
they are now measured on a seeded draw in which each class has its share (stats_sample), checked
against NumPy's mean and std of all the images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.applications.ssl.data import SSLData
from siamkit.data import memory
from siamkit.training.data import RunData


def _class_sorted(n_classes: int = 12, per_class: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3, 2, 2) in class order, each class brighter than the one before."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), per_class)
    level = rng.normal(20 + 18 * y, 12)[:, None, None, None]
    x = level + rng.normal(0, 12, (len(y), 3, 2, 2)) + np.array([0, 5, -5])[None, :, None, None]
    return x.clip(0, 255).astype(np.uint8), y


def _numpy_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = x.astype(np.float64) / 255.0
    return f.mean(axis=(0, 2, 3)), f.std(axis=(0, 2, 3), ddof=1)


def test_a_run_s_statistics_are_those_of_all_its_classes() -> None:
    x, y = _class_sorted()
    want_mean, want_std = _numpy_stats(x)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    names, ids = tuple("abcdefghijkl"), tuple(range(12))
    data = RunData(tx, ty, tx[:0], ty[:0], tx[:0], ty[:0], names, ids, ())
    mean, std = data.channel_stats()
    # sampling error of 20,000 of 48,000 stratified images: a few 1e-4; the first 20,000 (the
    # first 5 classes) are off by about 0.2
    assert mean == pytest.approx(tuple(want_mean), abs=2e-3)
    assert std == pytest.approx(tuple(want_std), abs=2e-3)
    assert data.channel_stats() == (mean, std)  # seeded: the same figures every time


def test_an_unlabelled_folder_s_statistics_are_those_of_all_its_images() -> None:
    x, _ = _class_sorted()
    want_mean, want_std = _numpy_stats(x)
    mean, std = SSLData(torch.from_numpy(x), None, None, "t").channel_stats()
    assert mean == pytest.approx(tuple(want_mean), abs=3e-3)
    assert std == pytest.approx(tuple(want_std), abs=3e-3)


def test_each_class_has_its_share_of_the_draw() -> None:
    """Counts per class are the largest-remainder rounding of 20,000 x its share: a naive
    proportional count, floored, with the leftover images given to the largest remainders."""
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 9000, size=23)
    y = np.repeat(rng.permutation(1000)[:23], sizes)  # class ids need not be 0..K-1
    pick = memory.stats_sample(len(y), torch.from_numpy(y), most=20_000)
    assert len(pick) == 20_000 and len(set(pick.tolist())) == 20_000
    assert torch.equal(pick, pick.sort().values)
    ids = np.unique(y)
    exact = np.array([(y == k).sum() for k in ids]) * 20_000 / len(y)
    want = np.floor(exact).astype(int)
    want[np.argsort(-(exact - want), kind="stable")[: 20_000 - want.sum()]] += 1
    got = np.array([(y[pick.numpy()] == k).sum() for k in ids])
    np.testing.assert_array_equal(got, want)


def test_up_to_the_limit_every_image_is_used_as_before() -> None:
    x, y = _class_sorted(per_class=100)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    assert torch.equal(memory.stats_sample(len(y), ty), torch.arange(len(y)))
    assert memory.channel_stats(tx, ty, most=20_000) == memory.channel_stats(tx)
