"""The view pipeline: seeded determinism, and each operation against an independent reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

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


def _draw(n: int, low: float, high: float, gen: torch.Generator) -> list[float]:
    """One transform's ``n`` draws, as every view transform makes them (float32, per batch)."""
    return (torch.rand(n, generator=gen) * (high - low) + low).tolist()


def _per_image_view(x: torch.Tensor, cfg: ViewConfig, gen: torch.Generator) -> np.ndarray:
    """SimCLR's recipe as the ViewConfig documents it, one image at a time in float64: a resized
    crop by Pillow's bilinear resize of the box, then NumPy for the flip, jitter (brightness,
    contrast, saturation with BT.601 luma), grayscale, Gaussian blur (reflected borders, the
    kernel spanning 3 of the batch's largest sigma) and erasing. Its random numbers are drawn
    as the batched views draw them: each transform's for every image, in the pipeline's order."""
    n, c, h, w = x.shape
    out = x.double().numpy().copy()
    luma = np.array([0.299, 0.587, 0.114])
    area, log_r = _draw(n, *cfg.crop_scale, gen), _draw(n, np.log(3 / 4), np.log(4 / 3), gen)
    uy, ux = _draw(n, 0, 1, gen), _draw(n, 0, 1, gen)
    for i in range(n):
        bh = min(1.0, float(np.sqrt(area[i] / np.exp(log_r[i]))))
        bw = min(1.0, float(np.sqrt(area[i] * np.exp(log_r[i]))))
        top, left = uy[i] * (1 - bh), ux[i] * (1 - bw)
        box = (left * w, top * h, (left + bw) * w, (top + bh) * h)
        for ch in range(c):
            img = Image.fromarray(out[i, ch].astype(np.float32))  # mode F
            out[i, ch] = np.asarray(img.resize((w, h), Image.Resampling.BILINEAR, box=box))
    if cfg.flip:
        for i, u in enumerate(_draw(n, 0, 1, gen)):
            out[i] = out[i, :, :, ::-1] if u < 0.5 else out[i]
    jitter = [u < cfg.jitter_p for u in _draw(n, 0, 1, gen)]
    b, k = (
        _draw(n, 1 - cfg.jitter, 1 + cfg.jitter, gen),
        _draw(n, 1 - cfg.jitter, 1 + cfg.jitter, gen),
    )
    s = _draw(n, 1 - cfg.jitter, 1 + cfg.jitter, gen)
    _draw(n, 0, 1, gen)  # the jitter's grayscale draws (probability 0)
    for i in np.flatnonzero(jitter):
        y = out[i] * b[i]
        y = np.clip((y - y.mean()) * k[i] + y.mean(), 0, 1)
        if c == 3:
            gray = np.tensordot(luma, y, 1)
            y = np.clip(gray + (y - gray) * s[i], 0, 1)
        out[i] = y
    _draw(n, 1, 1, gen)  # the grayscale step's saturation draws (factor 1)
    for i, u in enumerate(_draw(n, 0, 1, gen)):
        if c == 3 and u < cfg.gray_p:
            out[i] = np.tensordot(luma, out[i], 1)[None].repeat(3, axis=0)
    sigma = _draw(n, 0.1 * min(h, w) / 28, 2.0 * min(h, w) / 28, gen)
    half = max(1, min(int(np.ceil(3 * max(sigma))), min(h, w) - 1))
    for i, u in enumerate(_draw(n, 0, 1, gen)):
        if u >= cfg.blur_p:
            continue
        kernel = np.exp(-(np.arange(-half, half + 1) ** 2) / (2 * sigma[i] ** 2))
        kernel /= kernel.sum()
        for ch in range(c):
            rows = np.pad(out[i, ch], ((0, 0), (half, half)), mode="reflect")
            img = np.stack([np.convolve(r, kernel, "valid") for r in rows])
            cols = np.pad(img, ((half, half), (0, 0)), mode="reflect")
            out[i, ch] = np.stack([np.convolve(col, kernel, "valid") for col in cols.T]).T
    erase = np.array(_draw(n, 0.02, 0.2, gen)) * h * w
    ratio = np.exp(_draw(n, np.log(0.3), np.log(3.3), gen))
    eh = np.clip(np.round(np.sqrt(erase / ratio)), 1, h).astype(int)
    ew = np.clip(np.round(np.sqrt(erase * ratio)), 1, w).astype(int)
    et = np.floor(np.array(_draw(n, 0, 1, gen)) * (h - eh + 1)).astype(int)
    el = np.floor(np.array(_draw(n, 0, 1, gen)) * (w - ew + 1)).astype(int)
    for i, u in enumerate(_draw(n, 0, 1, gen)):
        if u < cfg.erase_p:
            out[i, :, et[i] : et[i] + eh[i], el[i] : el[i] + ew[i]] = 0.0
    return out


@pytest.mark.parametrize(
    ("channels", "size", "cfg"),
    [
        (1, 28, ViewConfig()),
        (3, 20, ViewConfig()),
        (3, 24, ViewConfig((0.08, 1.0), False, 0.8, 1.0, 0.5, 1.0, 1.0)),
        (1, 16, ViewConfig((0.9, 1.0), True, 0.2, 0.5, 0.0, 0.0, 0.0)),
    ],
)
def test_a_batch_of_views_is_the_per_image_reference(
    channels: int, size: int, cfg: ViewConfig
) -> None:
    """The whole view pipeline, batched, against a per-image Pillow / NumPy reference: each step
    in its place and with its documented range (no test covered their composition: a jitter
    applied to every view, saturation left out of it, or blur and erasing swapped passed)."""
    x = torch.rand(10, channels, size, size, generator=torch.Generator().manual_seed(1))
    got = ViewMaker(cfg)(x, torch.Generator().manual_seed(5))
    want = _per_image_view(x, cfg, torch.Generator().manual_seed(5))
    np.testing.assert_allclose(got.double().numpy(), want, atol=2e-5)
