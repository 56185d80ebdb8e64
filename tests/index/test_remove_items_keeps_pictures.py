"""``GalleryStore.remove_items`` deleted the items' thumbnails (``g.db.thumbs``, a commit of the
side file) before the items' own ``DELETE``, so a removal whose deletion then failed (a damaged
page of the ``items_label`` index, which reading the items by id never meets; a lock held past
the wait) kept the items and lost their pictures, while the ``GalleryDamagedError`` said the file
"was left as it is" (reviewer s52_R10 finding 2). The thumbnails are now deleted after the items'
deletion, before the commit: all or none, as ``Gallery.remove(label)``."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from siamkit.index import Gallery
from siamkit.index.store import GalleryDamagedError
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for


def _thumbnail_ids(path: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(thumbnails_path_for(path))) as conn:
        return [r[0] for r in conn.execute("SELECT item_id FROM thumbnails ORDER BY item_id")]


def _item_ids(path: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM items ORDER BY id")]


def _enrolled(path: Path) -> np.ndarray:
    """alice's 5 items (ids 1-5) and their thumbnails; the WAL checkpointed into the file."""
    z = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    with Gallery.open(path, embedding_dim=8, distance="euclidean", threshold=1.0) as g:
        assert g.enroll_embeddings("alice", z) == [1, 2, 3, 4, 5]
    thumbs = ThumbnailStore(thumbnails_path_for(path))
    thumbs.put("alice", [1, 2, 3, 4, 5], [b"png%d" % i for i in range(5)])
    thumbs.close()
    return z


def test_items_on_a_damaged_index_page_keep_their_thumbnails(tmp_path):
    """A real damaged page: the ``items_label`` index overwritten while the gallery is open.
    The items are read by id (through no index) and found; their deletion must update the
    index and fails."""
    path = tmp_path / "g.db"
    z = _enrolled(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        sql = "SELECT rootpage FROM sqlite_master WHERE name = 'items_label'"
        root = conn.execute(sql).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with Gallery.open(path, create=False, threshold=1.0) as g:
        assert g.identify_embeddings(z[:1])[0].matches[0].item_id == 1  # index loaded
        with open(path, "r+b") as f:
            f.seek((root - 1) * page_size)
            f.write(b"\xff" * page_size)
        g._store._conn.execute("PRAGMA shrink_memory")  # the page is read again from the file
        with pytest.raises(GalleryDamagedError, match="left as it is"):
            g.remove_items([1, 2])
        assert _item_ids(path) == [1, 2, 3, 4, 5]
        assert _thumbnail_ids(path) == [1, 2, 3, 4, 5]  # were [3, 4, 5]: 1 and 2 lost
        assert g.identify_embeddings(z[:1])[0].matches[0].item_id == 1  # still searched


class _FailingDelete:
    """The gallery's connection, whose deletion of items fails as SQLite's would."""

    def __init__(self, conn: sqlite3.Connection, error: Exception) -> None:
        self._conn, self._error = conn, error

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.lstrip().upper().startswith("DELETE FROM ITEMS"):
            raise self._error
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_items_whose_deletion_meets_a_held_lock_keep_their_thumbnails(tmp_path):
    """The same when the deletion fails for a lock held past the wait; once the file can be
    written, the items and their thumbnails go together."""
    path = tmp_path / "g.db"
    z = _enrolled(path)
    with Gallery.open(path, create=False, threshold=1.0) as g:
        assert g.identify_embeddings(z[:1])[0].matches[0].item_id == 1
        store = g._store
        real = store._conn
        store._conn = _FailingDelete(real, sqlite3.OperationalError("database is locked"))
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                g.remove_items([1, 2])
        finally:
            store._conn = real
        assert _item_ids(path) == [1, 2, 3, 4, 5]
        assert _thumbnail_ids(path) == [1, 2, 3, 4, 5]
        assert g.remove_items([1, 2]) == {1: "alice", 2: "alice"}
        assert _item_ids(path) == [3, 4, 5] and _thumbnail_ids(path) == [3, 4, 5]
        assert g.identify_embeddings(z[:1])[0].matches[0].item_id != 1
