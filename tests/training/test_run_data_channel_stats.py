"""RunData.channel_stats made one float32 copy of up to 20,000 training images, 4 times the uint8
images an image folder run holds (20,000 photos at 224 px in colour: 11 GiB more, after the folder
was read). It now hands its first 20,000 training images to
:func:`siamkit.data.memory.channel_stats`, which sums them in float64 chunks of a bounded size;
that function's figures and chunks are tested in tests/applications/ssl/test_ssl_channel_stats.py
(through SSLData's wrapper), so this file checks only that RunData's wrapper delegates to it."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from siamkit.data import memory as data_memory
from siamkit.training import data as training_data
from siamkit.training.data import RunData


def test_the_statistics_are_the_chunked_function_s_of_the_first_20000_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Tensor] = []

    def spy(x: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
        seen.append(x)
        return data_memory.channel_stats(x)

    monkeypatch.setattr(training_data, "channel_stats", spy)
    x = torch.randint(0, 256, (20_003, 3, 1, 1), generator=torch.Generator().manual_seed(1))
    x = x.to(torch.uint8)
    y = torch.zeros(x.shape[0], dtype=torch.int64)
    stats = RunData(x, y, x[:0], y[:0], x[:0], y[:0], ("a",), (0,), ()).channel_stats()
    assert len(seen) == 1  # handed over once, not computed beside it
    assert torch.equal(seen[0], x[:20_000])  # up to 20,000 images used
    assert stats == data_memory.channel_stats(x[:20_000])
