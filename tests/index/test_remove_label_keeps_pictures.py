"""``Gallery.remove(label)`` deleted the label's thumbnails (``staff.db.thumbs``) before its items,
so a removal whose deletion of the items then failed (a damaged page of the gallery, a lock held
past the wait) left the label with all its items and none of its pictures, while the
``GalleryDamagedError`` said the file "was left as it is". The thumbnails are now deleted in the
items' transaction, after the items' deletion, as ``remove_items`` does: all or none."""

from __future__ import annotations

import contextlib
import shutil
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


class _FailingDelete:
    """The gallery's connection, whose deletion of items fails as SQLite's would."""

    def __init__(self, conn: sqlite3.Connection, error: Exception) -> None:
        self._conn, self._error = conn, error

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.lstrip().upper().startswith("DELETE FROM ITEMS"):
            raise self._error
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (sqlite3.DatabaseError("database disk image is malformed"), GalleryDamagedError),
        (sqlite3.OperationalError("database is locked"), sqlite3.OperationalError),
    ],
)
def test_a_label_whose_items_cannot_be_deleted_keeps_its_thumbnails(tmp_path, error, raised):
    path = tmp_path / "g.db"
    z = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    with Gallery.open(path, embedding_dim=8, distance="euclidean", threshold=1.0) as g:
        assert g.enroll_embeddings("alice", z[:3]) == [1, 2, 3]
        assert g.enroll_embeddings("bob", z[3:]) == [4, 5]
        thumbs = ThumbnailStore(thumbnails_path_for(path))
        thumbs.put("alice", [1, 2, 3], [b"a1", b"a2", b"a3"])
        thumbs.put("bob", [4, 5], [b"b4", b"b5"])
        thumbs.close()
        assert g.identify_embeddings(z[:1])[0].matches[0].label == "alice"  # index loaded
        store = g._store
        real, store._conn = store._conn, _FailingDelete(store._conn, error)
        with pytest.raises(raised):
            g.remove("alice")
        store._conn = real
        assert g.items("alice").ids.tolist() == [1, 2, 3]
        assert _thumbnail_ids(path) == [1, 2, 3, 4, 5]  # were [4, 5]: alice's pictures lost
        assert g.identify_embeddings(z[:1])[0].matches[0].item_id == 1
        assert g.remove("alice") == 3  # once the file can be written, all of it goes
        assert "alice" not in g and _thumbnail_ids(path) == [4, 5]
        assert g.identify_embeddings(z[:1])[0].matches[0].label == "bob"


def test_a_label_on_a_damaged_page_keeps_its_thumbnails(tmp_path):
    """The same with a real damaged page: 4 KiB of the items overwritten."""
    sound, path = tmp_path / "sound.db", tmp_path / "g.db"
    rng = np.random.default_rng(0)
    with Gallery.open(sound, embedding_dim=64, distance="euclidean") as g:
        for i in range(300):
            g.enroll_embeddings(f"L{i}", rng.normal(size=(5, 64)).astype(np.float32))
        ids_of = {f"L{i}": g.items(f"L{i}").ids.tolist() for i in range(300)}
    shutil.copy(sound, path)
    with open(path, "r+b") as f:
        f.seek(200_000)
        f.write(b"\xff" * 4096)
    with Gallery.open(path, create=False) as g:
        hit = []
        for label in ids_of:  # the labels whose rows lie on the damaged page (read only)
            with contextlib.suppress(GalleryDamagedError):
                g.items(label)
                continue
            hit.append(label)
        assert hit, "no label lies on the damaged page"
        label = hit[0]
        thumbs = ThumbnailStore(thumbnails_path_for(path))
        thumbs.put(label, ids_of[label], [b"png"] * len(ids_of[label]))
        thumbs.close()
        before = path.read_bytes()
        with pytest.raises(GalleryDamagedError, match="left as it is"):
            g.remove(label)
    assert path.read_bytes() == before
    assert _thumbnail_ids(path) == ids_of[label]
