"""RunData.channel_stats made one float32 copy of up to 20,000 training images, 4 times the uint8
images an image folder run holds (20,000 photos at 224 px in colour: 11 GiB more, after the folder
was read). They are now summed in float64 chunks of a bounded size, as SSLData's are, and equal
the whole-copy formula."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from siamkit.data import memory as data_memory
from siamkit.training.data import RunData


def _run_data(x: Tensor) -> RunData:
    y = torch.zeros(x.shape[0], dtype=torch.int64)
    return RunData(x, y, x[:0], y[:0], x[:0], y[:0], ("a",), (0,), ())


def _whole(x: Tensor) -> tuple[list[float], list[float]]:
    """The former computation: one float32 copy of them all, torch's mean and unbiased std."""
    f = x.float() / 255 if x.dtype == torch.uint8 else x
    mean, std = f.mean(dim=(0, 2, 3)), f.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return [float(v) for v in mean], [float(v) for v in std]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_the_statistics_are_those_of_the_whole_copy(
    dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (41, 3, 6, 5), generator=gen, dtype=torch.uint8)
    x[:, 0] //= 8  # channels of other means and spreads
    x[:, 2] = 128 + x[:, 2] // 4
    if dtype == torch.float32:
        x = x.float() / 255
    before = x.clone()
    monkeypatch.setattr(data_memory, "STATS_CHUNK_BYTES", 3 * 3 * 6 * 5 * 8)  # 3 images a chunk
    mean, std = _run_data(x).channel_stats()
    want_mean, want_std = _whole(x)
    assert mean == pytest.approx(want_mean, abs=6e-5)  # rounded to 4 places
    assert std == pytest.approx(want_std, abs=6e-5)
    assert all(round(v, 4) == v for v in (*mean, *std))
    assert torch.equal(x, before)  # the training images are left as they were


def test_each_chunk_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extra memory is one chunk's, whatever the number of images (up to 20,000 used)."""
    image = 3 * 2 * 2 * 8  # float64 bytes of one image
    monkeypatch.setattr(data_memory, "STATS_CHUNK_BYTES", 7 * image)
    seen: list[int] = []
    real = data_memory._float64

    def spy(x: Tensor) -> Tensor:
        out = real(x)
        seen.append(out.numel() * out.element_size())
        return out

    monkeypatch.setattr(data_memory, "_float64", spy)
    x = torch.randint(0, 256, (20_010, 3, 2, 2), dtype=torch.uint8)
    _run_data(x).channel_stats()
    assert sum(seen) == 20_000 * image  # every image up to 20,000 counted, once
    assert max(seen) <= 7 * image
