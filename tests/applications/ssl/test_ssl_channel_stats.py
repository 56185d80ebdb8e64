"""SSLData.channel_stats made one float32 copy of up to 20,000 training images, 4 times the uint8
images the memory check (check_images_fit) counts: a folder run the check let through died of
PyTorch's allocator error after reading every photo. The statistics are now summed over chunks of
a bounded size, and equal the whole-copy formula.

The full test of :func:`siamkit.data.memory.channel_stats`, which SSLData.channel_stats and
RunData.channel_stats both hand their images to; tests/training/test_run_data_channel_stats.py
checks only that RunData's wrapper delegates."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from siamkit.applications.ssl.data import SSLData
from siamkit.data import memory as data_memory


def _whole(x: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The former computation: one float copy of them all, torch's mean and (unbiased) std."""
    f = x.float() / 255 if x.dtype == torch.uint8 else x
    mean, std = f.mean(dim=(0, 2, 3)), f.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_the_statistics_are_those_of_the_whole_copy(
    dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (37, 3, 5, 7), generator=gen, dtype=torch.uint8)
    x[:, 1] //= 4  # channels of other means and spreads
    x[:, 2] = 200 + x[:, 2] // 16
    if dtype == torch.float32:
        x = x.float() / 255
    before = x.clone()
    monkeypatch.setattr(data_memory, "STATS_CHUNK_BYTES", 4 * 3 * 5 * 7 * 8)  # 4 images a chunk
    mean, std = SSLData(x, None, None, "t").channel_stats()
    want_mean, want_std = _whole(x)
    assert mean == pytest.approx(want_mean, abs=6e-5)  # rounded to 4 places
    assert std == pytest.approx(want_std, abs=6e-5)
    assert all(round(v, 4) == v for v in (*mean, *std))
    assert torch.equal(x, before)  # the images are left as they were


def test_each_chunk_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extra memory is one chunk's, whatever the number of images (up to 20,000 used)."""
    image = 1 * 4 * 4 * 8  # float64 bytes of one image
    monkeypatch.setattr(data_memory, "STATS_CHUNK_BYTES", 10 * image, raising=False)
    seen: list[int] = []
    real = data_memory._float64

    def spy(x: Tensor) -> Tensor:
        out = real(x)
        seen.append(out.numel() * out.element_size())
        return out

    monkeypatch.setattr(data_memory, "_float64", spy)
    x = torch.randint(0, 256, (20_005, 1, 4, 4), dtype=torch.uint8)
    SSLData(x, None, None, "t").channel_stats()
    assert sum(seen) == 20_000 * image  # every image up to 20,000 counted, once
    assert max(seen) <= 10 * image


def test_one_image_larger_than_a_chunk_is_its_own_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_memory, "STATS_CHUNK_BYTES", 16)
    x = torch.randint(0, 256, (3, 3, 6, 6), dtype=torch.uint8)
    mean, std = SSLData(x, None, None, "t").channel_stats()
    want_mean, want_std = _whole(x)
    assert mean == pytest.approx(want_mean, abs=6e-5)
    assert std == pytest.approx(want_std, abs=6e-5)
