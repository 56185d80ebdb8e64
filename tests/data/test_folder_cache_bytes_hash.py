"""The image cache's fingerprint sampled a file's first and last 4 KiB alone: a retouch in the
middle of an uncompressed image (BMP, uncompressed TIFF), which keeps its size, whose time was
set back (``touch -r``, ``rsync -a``) kept the cache, and its old pixels were trained on. A file
up to 1 MiB is now hashed whole, a larger one in 16 evenly spaced 4 KiB blocks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from siamkit.data.folder_cache import SAMPLE_BLOCKS, SAMPLE_BYTES, WHOLE_BYTES, _sample, fingerprint


def _retouch_keeping_time(path: Path, edit: object) -> None:
    st = os.stat(path)
    edit()  # type: ignore[operator]
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # time set back


def test_a_middle_retouch_of_a_bmp_with_its_time_set_back_changes_the_fingerprint(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a" / "1.bmp"
    path.parent.mkdir()
    pixels = np.random.RandomState(0).randint(0, 255, (128, 128, 3), np.uint8)
    Image.fromarray(pixels).save(path)
    size = path.stat().st_size
    before = fingerprint([path], (3, 32, 32))
    pixels[40:90, 40:90] = 0  # the middle of the photo

    _retouch_keeping_time(path, lambda: Image.fromarray(pixels).save(path))
    assert path.stat().st_size == size  # uncompressed: same size, same time
    assert fingerprint([path], (3, 32, 32)) != before


def test_a_small_file_is_hashed_whole(tmp_path: Path) -> None:
    path = tmp_path / "x.bmp"
    data = os.urandom(WHOLE_BYTES)
    path.write_bytes(data)
    expected = hashlib.blake2b(str(len(data)).encode(), digest_size=16)
    expected.update(data)
    assert _sample(path, len(data)) == expected.hexdigest()


def test_a_large_file_is_hashed_in_evenly_spaced_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.bmp"
    size = 3 * WHOLE_BYTES + 12345
    data = bytearray(os.urandom(size))
    path.write_bytes(data)
    expected = hashlib.blake2b(str(size).encode(), digest_size=16)
    starts = np.linspace(0, size - SAMPLE_BYTES, SAMPLE_BLOCKS).astype(int)  # first, last, 14
    for start in starts:
        expected.update(bytes(data[start : start + SAMPLE_BYTES]))
    assert _sample(path, size) == expected.hexdigest()
    was = _sample(path, size)

    data[(starts[7] + starts[8]) // 2] ^= 0xFF  # between two blocks: not seen, as documented
    path.write_bytes(data)
    assert _sample(path, size) == was
    data[starts[8] + 10] ^= 0xFF  # inside a middle block
    path.write_bytes(data)
    assert _sample(path, size) != was
