"""Augmentations: functional core against naive per-image loops; random wrappers' contracts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.data.transforms import (
    Compose,
    Identity,
    RandomBrightnessContrast,
    RandomErasing,
    RandomHorizontalFlip,
    RandomResizedCropLite,
    RandomShift,
    build_augmentation,
)
from siamkit.data.transforms_functional import (
    adjust_brightness_contrast,
    crop_resize,
    erase_rectangles,
    flip_horizontal,
    shift_images,
)


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.rand(6, 2, 7, 9, generator=torch.Generator().manual_seed(0))


def _naive_shift(img: np.ndarray, dy: int, dx: int, fill: float) -> np.ndarray:
    _, h, w = img.shape
    out = np.full_like(img, fill)
    for i in range(h):
        for j in range(w):
            si, sj = i - dy, j - dx
            if 0 <= si < h and 0 <= sj < w:
                out[:, i, j] = img[:, si, sj]
    return out


def test_shift_matches_naive(batch):
    dy = torch.tensor([0, 1, -2, 3, 0, -1])
    dx = torch.tensor([0, -1, 2, 0, 4, -3])
    out = shift_images(batch, dy, dx, fill=0.5)
    for n in range(len(batch)):
        ref = _naive_shift(batch[n].numpy(), int(dy[n]), int(dx[n]), 0.5)
        np.testing.assert_array_equal(out[n].numpy(), ref)


def test_flip_matches_naive(batch):
    mask = torch.tensor([True, False, True, False, False, True])
    out = flip_horizontal(batch, mask)
    for n in range(len(batch)):
        ref = batch[n].numpy()[:, :, ::-1] if mask[n] else batch[n].numpy()
        np.testing.assert_array_equal(out[n].numpy(), ref)


def test_erase_matches_naive(batch):
    top, left = torch.tensor([0, 1, 2, 6, 0, 3]), torch.tensor([0, 2, 8, 0, 1, 3])
    height, width = torch.tensor([2, 3, 5, 4, 0, 1]), torch.tensor([3, 1, 4, 9, 5, 1])
    out = erase_rectangles(batch, top, left, height, width, value=-1.0)
    for n in range(len(batch)):
        ref = batch[n].numpy().copy()
        t, lft, hh, ww = (int(v[n]) for v in (top, left, height, width))
        ref[:, t : t + hh, lft : lft + ww] = -1.0
        np.testing.assert_array_equal(out[n].numpy(), ref)


def test_brightness_contrast_matches_formula(batch):
    b = torch.tensor([1.0, 1.2, 0.8, 1.0, 0.9, 1.1])
    c = torch.tensor([1.0, 1.0, 1.0, 1.3, 0.7, 1.2])
    out = adjust_brightness_contrast(batch, b, c)
    for n in range(len(batch)):
        y = batch[n].numpy().astype(np.float64) * float(b[n])
        ref = np.clip((y - y.mean()) * float(c[n]) + y.mean(), 0, 1)
        np.testing.assert_allclose(out[n].numpy(), ref, atol=1e-6)
    torch.testing.assert_close(out[0], batch[0])


def test_crop_resize_identity_and_exact_quadrant():
    x = torch.rand(3, 1, 8, 8)
    full = torch.tensor([[0.5, 0.5, 1.0, 1.0]] * 3)
    torch.testing.assert_close(crop_resize(x, full), x, atol=1e-6, rtol=0)
    quadrants = torch.tensor(
        [[0.25, 0.25, 0.5, 0.5], [0.75, 0.25, 0.5, 0.5], [0.25, 0.75, 0.5, 0.5]]
    )
    out = crop_resize(x, quadrants, size=(4, 4))
    torch.testing.assert_close(out[0], x[0, :, :4, :4], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1], x[1, :, 4:, :4], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[2], x[2, :, :4, 4:], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("hw", "sizes"), [((11, 13), [(11, 13), (7, 5), (20, 16)]), ((150, 131), [(64, 70)])]
)
def test_crop_resize_matches_grid_sample(hw, sizes):
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(16, 3, *hw, generator=gen)
    extent = 0.3 + 0.7 * torch.rand(16, 2, generator=gen)
    centers = extent / 2 + torch.rand(16, 2, generator=gen) * (1 - extent)
    boxes = torch.stack([centers[:, 0], centers[:, 1], extent[:, 0], extent[:, 1]], dim=1)
    theta = torch.zeros(16, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = boxes[:, 3], 2 * boxes[:, 1] - 1
    theta[:, 1, 1], theta[:, 1, 2] = boxes[:, 2], 2 * boxes[:, 0] - 1
    for size in sizes:
        grid = torch.nn.functional.affine_grid(theta, [16, 3, *size], align_corners=False)
        ref = torch.nn.functional.grid_sample(
            x, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        torch.testing.assert_close(crop_resize(x, boxes, size), ref, atol=5e-5, rtol=0)


ALL = [
    RandomShift(2),
    RandomResizedCropLite(),
    RandomHorizontalFlip(0.5),
    RandomBrightnessContrast(),
    RandomErasing(p=0.5),
    build_augmentation("light"),
    build_augmentation("standard"),
]


@pytest.mark.parametrize("transform", ALL, ids=lambda t: type(t).__name__)
def test_reproducible_and_shape_preserving(transform, batch):
    a = transform(batch, generator=torch.Generator().manual_seed(5))
    b = transform(batch, generator=torch.Generator().manual_seed(5))
    c = transform(batch, generator=torch.Generator().manual_seed(6))
    assert a.shape == batch.shape and a.dtype == batch.dtype
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    single = transform(batch[0], generator=torch.Generator().manual_seed(1))
    assert single.shape == batch[0].shape


def test_parameters_differ_per_image():
    x = torch.rand(1, 1, 12, 12).expand(32, 1, 12, 12).contiguous()
    out = RandomShift(3)(x, generator=torch.Generator().manual_seed(0))
    distinct = {tuple(o.flatten().tolist()) for o in out}
    assert len(distinct) > 10


def test_random_shift_is_a_valid_shift():
    x = torch.rand(10, 1, 6, 6)
    out = RandomShift(2, fill=0.0)(x, generator=torch.Generator().manual_seed(3))
    for n in range(10):
        candidates = [
            _naive_shift(x[n].numpy(), dy, dx, 0.0) for dy in range(-2, 3) for dx in range(-2, 3)
        ]
        assert any(np.array_equal(out[n].numpy(), c) for c in candidates)


def test_flip_probability_extremes(batch):
    torch.testing.assert_close(RandomHorizontalFlip(0.0)(batch), batch)
    torch.testing.assert_close(RandomHorizontalFlip(1.0)(batch), batch.flip(-1))


def test_erasing_extremes():
    x = torch.ones(50, 1, 20, 20)
    assert torch.equal(RandomErasing(p=0.0)(x), x)
    out = RandomErasing(p=1.0, scale=(0.1, 0.2), value=0.0)(x, torch.Generator().manual_seed(0))
    erased = (out == 0).sum(dim=(1, 2, 3)).float() / 400
    assert bool((erased > 0.04).all()) and bool((erased < 0.3).all())


def test_crop_with_unit_scale_is_identity(batch):
    out = RandomResizedCropLite(scale=(1.0, 1.0), ratio=(1.0, 1.0))(batch)
    torch.testing.assert_close(out, batch, atol=1e-6, rtol=0)


def test_compose_and_identity(batch):
    gen = torch.Generator().manual_seed(2)
    composed = Compose([Identity(), RandomHorizontalFlip(1.0), RandomHorizontalFlip(1.0)])
    torch.testing.assert_close(composed(batch, gen), batch)
    assert build_augmentation("none")(batch) is batch
    assert not any(
        isinstance(t, RandomHorizontalFlip)
        for t in build_augmentation("standard", flip=False).transforms
    )


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: RandomHorizontalFlip(1.5), ValueError),
        (lambda: RandomShift(-1), ValueError),
        (lambda: RandomResizedCropLite(scale=(0.9, 0.5)), ValueError),
        (lambda: RandomErasing(ratio=(0, 1)), ValueError),
        (lambda: RandomBrightnessContrast(brightness=1.5), ValueError),
        (lambda: build_augmentation("heavy"), ValueError),
    ],
)
def test_bad_arguments(make, error):
    with pytest.raises(error):
        make()


def test_bad_inputs():
    with pytest.raises(TypeError, match="float tensor"):
        RandomShift(1)(torch.zeros(1, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="got shape"):
        RandomShift(1)(torch.zeros(4, 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_same_result_on_gpu_with_cpu_generator(batch):
    t = build_augmentation("standard")
    cpu = t(batch, torch.Generator().manual_seed(0))
    gpu = t(batch.cuda(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=0)
