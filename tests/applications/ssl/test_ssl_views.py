"""The view pipeline: seeded determinism, and each operation against an independent reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from siamkit.applications.ssl.monitor import collapse_std, leave_one_out_knn
from siamkit.applications.ssl.views import (
    RandomGaussianBlur,
    RandomSaturationGray,
    ViewConfig,
    ViewMaker,
    blur_images,
    to_grayscale,
)


@pytest.mark.parametrize("channels", [1, 3])
def test_views_replay_from_the_seed(channels: int) -> None:
    x = torch.rand(6, channels, 20, 20)
    views = ViewMaker(ViewConfig())
    a = views.pair(x, torch.Generator().manual_seed(3))
    b = views.pair(x, torch.Generator().manual_seed(3))
    c = views.pair(x, torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert not torch.equal(a[0], a[1])  # the two views differ
    assert a[0].shape == x.shape and float(a[0].min()) >= 0 and float(a[0].max()) <= 1


def test_blur_matches_opencv() -> None:
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    sigma = torch.tensor([0.8, 1.5], dtype=torch.float64)
    out = blur_images(x, sigma)
    for i, s in enumerate(sigma.tolist()):
        half = max(
            1, min(int(np.ceil(3 * 1.5)), 15)
        )  # the batch's kernel spans ±3 of the largest sigma
        ref = cv2.GaussianBlur(
            x[i, 0].numpy(), (2 * half + 1, 2 * half + 1), s, borderType=cv2.BORDER_REFLECT_101
        )
        np.testing.assert_allclose(out[i, 0].numpy(), ref, atol=1e-6)


def test_blur_keeps_flat_images_and_probability_zero_is_identity() -> None:
    flat = torch.full((3, 3, 12, 12), 0.4)
    assert torch.allclose(blur_images(flat, torch.tensor([0.5, 1.0, 2.0])), flat, atol=1e-6)
    x = torch.rand(4, 1, 12, 12)
    assert torch.equal(RandomGaussianBlur(p=0.0)(x, torch.Generator().manual_seed(0)), x)
    assert not torch.equal(RandomGaussianBlur(p=1.0)(x, torch.Generator().manual_seed(0)), x)


def test_grayscale_is_opencv_luma_and_saturation_zero_keeps_colour() -> None:
    x = torch.rand(2, 3, 8, 8)
    gray = RandomSaturationGray(0.0, gray_p=1.0)(x, torch.Generator().manual_seed(0))
    for i in range(2):
        rgb = x[i].permute(1, 2, 0).numpy()
        ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        for ch in range(3):
            np.testing.assert_allclose(gray[i, ch].numpy(), ref, atol=1e-5)
    same = RandomSaturationGray(0.0, gray_p=0.0)(x, torch.Generator().manual_seed(0))
    assert torch.allclose(same, x, atol=1e-6)
    one = torch.rand(2, 1, 8, 8)
    assert torch.equal(RandomSaturationGray(0.5, 1.0)(one, torch.Generator()), one)
    assert to_grayscale(x).shape == (2, 1, 8, 8)


def test_saturation_moves_colours_towards_or_away_from_gray() -> None:
    x = torch.rand(64, 3, 4, 4)
    out = RandomSaturationGray(0.5, gray_p=0.0)(x, torch.Generator().manual_seed(1))
    gray = to_grayscale(x)
    before = (x - gray).abs().mean(dim=(1, 2, 3))
    after = (out - to_grayscale(x)).abs().mean(dim=(1, 2, 3))
    ratio = after / before  # the saturation factor, where nothing was clamped
    assert float(ratio.min()) >= 0.5 - 1e-4 and float(ratio.max()) <= 1.5 + 1e-4
    assert float(ratio.max() - ratio.min()) > 0.3  # drawn per image


def test_collapse_std_is_one_for_spread_and_zero_for_a_point() -> None:
    z = torch.nn.functional.normalize(torch.randn(4000, 16), dim=1)
    assert collapse_std(z) == pytest.approx(1.0, abs=0.05)
    assert collapse_std(torch.ones(50, 16) + 1e-9 * torch.randn(50, 16)) < 1e-6


def test_leave_one_out_knn_matches_scikit_learn() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    gen = torch.Generator().manual_seed(0)
    z = torch.randn(60, 5, generator=gen)
    y = torch.randint(0, 3, (60,), generator=gen)
    k = 5
    hits = 0
    for i in range(60):  # leave item i out, classify it with the rest (cosine)
        keep = torch.arange(60) != i
        clf = KNeighborsClassifier(k, metric="cosine", algorithm="brute").fit(z[keep], y[keep])
        hits += int(clf.predict(z[i : i + 1])[0] == y[i])
    assert leave_one_out_knn(z, y, k) == pytest.approx(hits / 60)
