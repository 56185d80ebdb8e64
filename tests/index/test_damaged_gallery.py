"""A gallery file cut short (a full disk, a copy stopped half way) or overwritten in part was
refused at the open as "g.db is not a siamkit gallery (database disk image is malformed) ... give
a gallery file that `siamkit enroll` made", which it is, and where the damage lay past the pages
read at the open, ``len``, ``identify`` and ``items`` raised SQLite's bare ``DatabaseError``,
naming no file and nothing to do. Both now say the gallery is damaged, name it, and say what to
do; the file is left as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from siamkit.index import Gallery
from siamkit.index.store import GalleryStore

DIM = 64


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gallery of 300 labels of 5 items each (about 120 pages of 4 KiB), closed."""
    path = tmp_path_factory.mktemp("damaged") / "sound.db"
    rng = np.random.default_rng(0)
    with Gallery.open(path, embedding_dim=DIM, distance="euclidean") as gallery:
        for i in range(300):
            gallery.enroll_embeddings(f"L{i}", rng.normal(size=(5, DIM)).astype(np.float32))
    return path


def _says_damaged(err: BaseException, path: Path) -> None:
    text = str(err)
    assert text.startswith(f"the gallery {path} is damaged (database disk image is malformed)")
    assert "restore it from a backup" in text and f"siamkit gallery {path} check" in text
    assert "not a siamkit gallery" not in text


def test_a_gallery_cut_short_is_named_damaged_and_left_as_it_was(
    sound: Path, tmp_path: Path
) -> None:
    path = tmp_path / "cut.db"
    shutil.copy(sound, path)
    with open(path, "r+b") as f:
        f.truncate(sound.stat().st_size // 2)
    before = path.read_bytes()
    with pytest.raises(ValueError) as info:
        Gallery.open(path, create=False)
    _says_damaged(info.value, path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("offset", [20_000, 200_000, 400_000])
def test_a_gallery_overwritten_in_part_is_named_damaged_in_any_call(
    sound: Path, tmp_path: Path, offset: int
) -> None:
    """Damage the open reads (20,000: the items' first pages) or only a search does."""
    path = tmp_path / "hole.db"
    shutil.copy(sound, path)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * 4096)
    with pytest.raises(ValueError) as info, Gallery.open(path, create=False) as gallery:
        gallery.identify_embeddings(np.zeros((1, DIM), np.float32))
    _says_damaged(info.value, path)


def test_a_write_into_a_label_on_a_damaged_page_is_named_damaged_and_rolled_back(
    sound: Path, tmp_path: Path
) -> None:
    """The writes too (an enrollment that reads the label's items for repeats, a label's
    removal), in their transaction: SQLite's bare "malformed" came out of them, and the file
    stays byte for byte as it was."""
    path = tmp_path / "hole.db"
    shutil.copy(sound, path)
    with open(path, "r+b") as f:
        f.seek(200_000)
        f.write(b"\xff" * 4096)
    with GalleryStore(path, create=False) as store:  # read only: which labels it damaged
        hit = []
        for i in range(300):
            try:
                store.load(label=f"L{i}")
            except ValueError:
                hit.append(f"L{i}")
    assert hit, "the 4 KiB written should hold some label's items"
    before = path.read_bytes()
    z = np.random.default_rng(1).normal(size=(1, DIM)).astype(np.float32)
    with Gallery.open(path, create=False) as gallery:
        with pytest.raises(ValueError) as info:
            gallery.enroll_embeddings(hit[0], z, skip_repeats=True)
        _says_damaged(info.value, path)
        with pytest.raises(ValueError) as info:
            gallery.remove(hit[0])
        _says_damaged(info.value, path)
    assert path.read_bytes() == before
