"""A face model's photos are read a slice at a time (``PhotoFiles``, beside ``ImageFiles`` in
``siamkit.cli._image_files``); ``open_photo_files`` of no path returned an empty
``PhotoFiles`` where ``open_image_files`` refuses an empty list: it now refuses it the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.cli._image_files import PhotoFiles, open_image_files, open_photo_files


def test_open_photo_files_refuses_an_empty_list_as_open_image_files_does() -> None:
    with pytest.raises(ValueError) as image_err:
        open_image_files([], (3, 8, 8))
    with pytest.raises(ValueError) as photo_err:
        open_photo_files([])
    assert str(photo_err.value) == str(image_err.value) == "no image files to read"


def test_open_photo_files_reads_each_photo_at_its_own_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sizes = [(12, 20), (30, 16)]  # (height, width)
    paths = []
    for i, (h, w) in enumerate(sizes):
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    photos = open_photo_files(paths)
    assert isinstance(photos, PhotoFiles) and len(photos) == 2
    read = photos[0:2]
    for (h, w), path, x in zip(sizes, paths, read):
        expected = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
        np.testing.assert_allclose(np.asarray(x).transpose(1, 2, 0), expected, atol=1e-6)
        assert tuple(np.asarray(x).shape) == (3, h, w)
