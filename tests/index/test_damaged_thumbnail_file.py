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
from siamkit.index.store import GalleryDamagedError, GalleryStore
from siamkit.index.thumbnail_store import ThumbnailStore, _gallery_damaged, thumbnails_path_for

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


def _copy(texts: Path, tmp_path: Path) -> tuple[Path, Path]:
    path = tmp_path / "txt.db"
    side = Path(thumbnails_path_for(path))
    shutil.copy(texts, path)
    shutil.copy(thumbnails_path_for(texts), side)
    return path, side


def test_a_damaged_side_file_read_with_its_sound_gallery_is_named_not_the_gallery(
    texts: Path, tmp_path: Path
) -> None:
    """The listing's statement reads both files, so its "malformed" may be either's: a damaged
    side file, read with the gallery attached, is named, and the sound gallery is not."""
    path, side = _copy(texts, tmp_path)
    with open(side, "r+b") as f:  # past the pages the open reads
        f.seek(side.stat().st_size // 2)
        f.write(b"\xff" * 4096)
    before = _digest(path), _digest(side)
    previews = ThumbnailStore(side)
    try:
        said = []
        for i in range(300):
            try:
                previews.of_label(f"T{i}", gallery=path)
            except ValueError as err:
                _says_thumbnails_damaged(err, side)
                said.append(i)
        assert said, "the 4 KiB written should hold some label's preview"
    finally:
        previews.close()
    assert (_digest(path), _digest(side)) == before
    with GalleryStore(path, create=False) as store:
        assert store.integrity_check() == "ok"


def test_a_side_file_index_its_quick_check_cannot_see_is_named_not_the_gallery(
    texts: Path, tmp_path: Path
) -> None:
    """An index out of step with its table (one row gone from ``thumbnails``, its entry in
    ``thumbnails_label`` kept, as a lost write of one page leaves it) passes SQLite's quick
    check, and a label's listing then meets "malformed": that was named the sound gallery's
    ("enroll its images again into a new gallery file")."""
    path, side = _copy(texts, tmp_path)
    conn = sqlite3.connect(side, isolation_level=None)
    index = conn.execute(
        "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master"
        " WHERE name = 'thumbnails_label'"
    ).fetchone()
    conn.execute("PRAGMA writable_schema=ON")  # the row deleted behind the index's back
    conn.execute("DELETE FROM sqlite_master WHERE name = 'thumbnails_label'")
    conn.close()
    conn = sqlite3.connect(side, isolation_level=None)
    conn.execute("DELETE FROM thumbnails WHERE label = 'T7'")
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute("INSERT INTO sqlite_master VALUES (?, ?, ?, ?, ?)", index)
    conn.close()
    conn = sqlite3.connect(side)
    try:  # the damage this test is about: the quick check passes, the full check does not
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]
    finally:
        conn.close()
    previews = ThumbnailStore(side)
    try:
        for gallery in (None, path):
            with pytest.raises(ValueError) as info:
                previews.of_label("T7", gallery=gallery)
            _says_thumbnails_damaged(info.value, side)
        assert [i for i, _ in previews.of_label("T8", gallery=path)] == [9]  # T8's item: id 9
    finally:
        previews.close()
    with GalleryStore(path, create=False) as store:
        assert store.integrity_check() == "ok"


def test_a_gallery_damaged_where_its_attach_reads_is_named_the_gallery(
    texts: Path, tmp_path: Path
) -> None:
    """Attaching the gallery reads its schema: damage there was called the thumbnail file's
    ("restore it from a backup, or move it aside"), whose thumbnails moving it aside drops.
    Nothing is left attached: once the gallery is restored, the listing reads it again."""
    path, side = _copy(texts, tmp_path)
    previews = ThumbnailStore(side)  # opened while the gallery is sound, as a service holds it
    try:
        with open(path, "r+b") as f:  # the gallery's schema page
            f.seek(100)
            f.write(b"\xff" * 3000)
        before = _digest(path), _digest(side)
        calls = (
            lambda: previews.of_label("T3", gallery=path),
            lambda: previews.first_per_label(gallery=path),
        )
        for call in calls:
            with pytest.raises(ValueError) as info:
                call()
            assert str(info.value).startswith(f"the gallery {path} is damaged (")
            assert "thumbnail file" not in str(info.value)
        assert (_digest(path), _digest(side)) == before
        shutil.copy(texts, path)
        assert [i for i, _ in previews.of_label("T3", gallery=path)] == [4]
        assert len(previews.first_per_label(gallery=path)) == 300
    finally:
        previews.close()


def test_a_gallery_whose_header_is_overwritten_after_the_open_is_named_the_gallery(
    texts: Path, tmp_path: Path
) -> None:
    """The ``ATTACH`` of a gallery whose header was overwritten since the side file was opened
    meets SQLite's "file is not a database", which counts as damage only for a file opened as
    a gallery before (``opened=True``): without it the sound side file was named, and moving it
    aside as told loses every thumbnail (reviewer s53_R4 finding 1). The service reads the
    gallery before its thumbnails and so names it first; this library call did not."""
    path, side = _copy(texts, tmp_path)
    previews = ThumbnailStore(side)  # opened while the gallery is sound, as a service holds it
    try:
        assert [i for i, _ in previews.of_label("T3", gallery=path)] == [4]
        with open(path, "r+b") as f:  # the gallery's header, not a page its statements read
            f.write(b"\xff" * 100)
        before = _digest(path), _digest(side)
        calls = (
            lambda: previews.of_label("T3", gallery=path),
            lambda: previews.first_per_label(gallery=path),
        )
        for call in calls:
            with pytest.raises(GalleryDamagedError) as info:
                call()
            assert str(info.value).startswith(
                f"the gallery {path} is damaged (file is not a database)"
            )
            assert str(side) not in str(info.value) and "thumbnail file" not in str(info.value)
        assert (_digest(path), _digest(side)) == before
    finally:
        previews.close()


def test_a_side_file_schema_damaged_while_open_is_named_not_the_gallery(
    texts: Path, tmp_path: Path
) -> None:
    """The gallery was judged on the side file's connection (reviewer s52_R15): once that
    connection must read its own damaged schema again (page 1, its cookie changed), the
    ``ATTACH`` and the gallery's quick check there fail alike, and the sound gallery was named
    ("enroll its images again into a new gallery file"). It is judged on a connection of its own."""
    path, side = _copy(texts, tmp_path)
    previews = ThumbnailStore(side)  # opened while sound, as a service holds it
    try:
        assert [i for i, _ in previews.of_label("T3", gallery=path)] == [4]
        raw = bytearray(side.read_bytes())
        page_size = int.from_bytes(raw[16:18], "big")
        raw[40:44] = (int.from_bytes(raw[40:44], "big") + 1).to_bytes(4, "big")  # schema cookie
        raw[page_size // 2 : page_size] = b"\xff" * (page_size - page_size // 2)  # schema cells
        side.write_bytes(bytes(raw))
        previews._conn.execute("PRAGMA shrink_memory")  # its cached pages dropped
        before = _digest(path), _digest(side)
        calls = (
            lambda: previews.of_label("T3", gallery=path),
            lambda: previews.first_per_label(gallery=path),
        )
        for call in calls:
            with pytest.raises(ValueError) as info:
                call()
            assert str(info.value).startswith(f"the thumbnail file {side} is damaged (")
            assert "the gallery's items are not in it" in str(info.value)
        assert (_digest(path), _digest(side)) == before
    finally:
        previews.close()
    with GalleryStore(path, create=False) as store:
        assert store.integrity_check() == "ok"


@pytest.mark.parametrize("damaged", [False, True])
def test_the_galleries_check_leaves_its_folder_as_it_found_it(
    texts: Path, tmp_path: Path, damaged: bool
) -> None:
    """The gallery's quick check (run when a statement that read the side file and the gallery
    fails, to tell which is damaged) read the gallery through a read-only connection, which
    makes the ``-shm`` and ``-wal`` of a WAL file and cannot remove them: a gallery that nothing
    else had open kept both beside it, a file it only read (final35 "NaN wording"). Listed
    before and after, the folder is the same, and the gallery's bytes too, sound or damaged."""
    path, _ = _copy(texts, tmp_path)
    if damaged:
        with open(path, "r+b") as f:  # past the pages an open reads
            f.seek(path.stat().st_size // 2)
            f.write(b"\xff" * 4096)
    before = sorted(p.name for p in tmp_path.iterdir())
    digest = _digest(path)
    assert _gallery_damaged(path) is damaged
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert _digest(path) == digest
