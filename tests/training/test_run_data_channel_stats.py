"""RunData.channel_stats made one float32 copy of up to 20,000 training images, 4 times the uint8
images an image folder run holds (20,000 photos at 224 px in colour: 11 GiB more, after the folder
was read). It now hands its training images (up to 20,000 of them, drawn with each class's share) to
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


def test_the_statistics_are_the_chunked_function_s_of_a_class_spread_20000(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wrapper hands all its training images and their labels over, with the 20,000 limit:
    the first 20,000 of an image folder are its first classes (reviewer s53_c6 finding 4; the
    draw is tested in tests/data/test_channel_stats_sample.py)."""
    seen: list[tuple[Tensor, Tensor | None, int | None]] = []

    def spy(
        x: Tensor, labels: Tensor | None = None, most: int | None = None
    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
        seen.append((x, labels, most))
        return data_memory.channel_stats(x, labels, most)

    monkeypatch.setattr(training_data, "channel_stats", spy)
    x = torch.randint(0, 256, (20_003, 3, 1, 1), generator=torch.Generator().manual_seed(1))
    x = x.to(torch.uint8)
    y = torch.arange(x.shape[0], dtype=torch.int64) % 3
    stats = RunData(x, y, x[:0], y[:0], x[:0], y[:0], ("a",), (0,), ()).channel_stats()
    assert len(seen) == 1  # handed over once, not computed beside it
    assert seen[0][0] is x and seen[0][1] is y and seen[0][2] == 20_000  # up to 20,000 used
    assert stats == data_memory.channel_stats(x, y, most=20_000)
