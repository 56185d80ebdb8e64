"""A text enrollment reads and writes its previews in the gallery's side file (``txt.db.thumbs``)
inside the gallery's transaction. When that side file was damaged, SQLite's "database disk image
is malformed" met there was called the gallery's: "the gallery txt.db is damaged ... enroll its
images again into a new gallery file", while the gallery was sound (its check said ok). At the
open, a damaged side file was called "not a siamkit thumbnail file". The side file now names its
own damage, and the gallery names only what its own statements meet; both files are left as
they were."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from siamkit.applications.text.documents import Document
from siamkit.applications.text.gallery import enroll_documents
from siamkit.index import Gallery
from siamkit.index.store import GalleryStore
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for

DIM = 16


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    z = rng.normal(size=(n, DIM)).astype(np.float32)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A text gallery of 300 labels with a preview each (its side file about 20 pages), closed."""
    path = tmp_path_factory.mktemp("thumbs") / "txt.db"
    docs = [Document(f"T{i}", f"text number {i} " + "x" * 150) for i in range(300)]
    with Gallery.open(path, embedding_dim=DIM, distance="cosine") as gallery:
        enroll_documents(gallery, path, docs, _unit(np.random.default_rng(0), len(docs)))
    return path


def _says_thumbnails_damaged(err: BaseException, side: Path) -> None:
    text = str(err)
    assert text.startswith(f"the thumbnail file {side} is damaged (database disk image is")
    assert "the gallery's items are not in it" in text and "restore it from a backup" in text
    assert "the gallery " not in text and "not a siamkit" not in text


def test_a_text_enrollment_meeting_a_damaged_side_file_names_it_not_the_gallery(
    texts: Path, tmp_path: Path
) -> None:
    path = tmp_path / "txt.db"
    side = Path(thumbnails_path_for(path))
    shutil.copy(texts, path)
    shutil.copy(thumbnails_path_for(texts), side)
    with open(side, "r+b") as f:  # past the pages the open reads
        f.seek(side.stat().st_size // 2)
        f.write(b"\xff" * 4096)
    previews = ThumbnailStore(side)
    try:
        damaged = []
        for i in range(300):
            try:
                previews.get([i + 1])
            except ValueError as err:
                _says_thumbnails_damaged(err, side)
                damaged.append(i)
        assert damaged, "the 4 KiB written should hold some label's preview"
        gallery_before, side_before = _digest(path), _digest(side)
        with Gallery.open(path, create=False) as gallery:
            with pytest.raises(ValueError) as info:
                enroll_documents(
                    gallery,
                    previews,
                    [Document(f"T{damaged[0]}", "a new text for this label")],
                    _unit(np.random.default_rng(1), 1),
                )
            _says_thumbnails_damaged(info.value, side)
            assert len(gallery) == 300  # nothing was enrolled
    finally:
        previews.close()
    assert (_digest(path), _digest(side)) == (gallery_before, side_before)
    with GalleryStore(path, create=False) as store:
        assert store.integrity_check() == "ok"  # the gallery is sound, as nothing claimed


def test_a_side_file_damaged_where_its_open_reads_is_named_damaged(
    texts: Path, tmp_path: Path
) -> None:
    side = tmp_path / "txt.db.thumbs"
    shutil.copy(thumbnails_path_for(texts), side)
    with open(side, "r+b") as f:  # the schema's page
        f.seek(100)
        f.write(b"\xff" * 3000)
    before = _digest(side)
    with pytest.raises(ValueError) as info:
        ThumbnailStore(side)
    _says_thumbnails_damaged(info.value, side)
    assert _digest(side) == before


def test_an_sqlite_error_of_another_file_in_an_enrollment_is_not_called_the_gallerys(
    tmp_path: Path,
) -> None:
    """A caller's rule of repeats that reads another damaged file: its own error passes as it
    was, neither swallowed nor turned into "the gallery g.db is damaged"."""
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    with conn:
        conn.execute("CREATE TABLE t (x BLOB)")
        conn.executemany("INSERT INTO t VALUES (?)", [(bytes(3000),) for _ in range(200)])
    conn.close()
    with open(other, "r+b") as f:
        f.seek(other.stat().st_size // 2)
        f.write(b"\xff" * 4096)

    def reads_other(ids: np.ndarray, known: np.ndarray) -> np.ndarray:
        with sqlite3.connect(other) as c:
            c.execute("SELECT length(x) FROM t").fetchall()
        return np.zeros(1, dtype=bool)

    path = tmp_path / "g.db"
    with Gallery.open(path, embedding_dim=DIM, distance="cosine") as gallery:
        gallery.enroll_embeddings("alice", _unit(np.random.default_rng(2), 2))
        with pytest.raises(sqlite3.DatabaseError, match="malformed") as info:
            gallery.enroll_embeddings(
                "alice", _unit(np.random.default_rng(3), 1), repeats=reads_other
            )
        assert "the gallery" not in str(info.value)
        assert len(gallery) == 2


def test_a_damaged_gallery_read_with_its_sound_side_file_is_named_the_gallery(
    texts: Path, tmp_path: Path
) -> None:
    """The listing reads a label's thumbnails with the gallery attached (only those of items it
    holds): there "malformed" may come from either file, and the damaged one is named."""
    path = tmp_path / "txt.db"
    side = Path(thumbnails_path_for(path))
    shutil.copy(texts, path)
    shutil.copy(thumbnails_path_for(texts), side)
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        f.write(b"\xff" * 4096)
    previews = ThumbnailStore(side)
    try:
        said = []
        for i in range(300):
            try:
                previews.of_label(f"T{i}", gallery=path)
            except ValueError as err:
                said.append(str(err))
    finally:
        previews.close()
    assert said, "the 4 KiB written should hold some label's item"
    assert all(s.startswith(f"the gallery {path} is damaged (database disk") for s in said)
