"""ThumbnailStore.get against a plain dict: any number of ids, only those stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamkit.index.thumbnail_store import ThumbnailStore


def test_get_returns_every_stored_id_however_many_are_asked(tmp_path: Path) -> None:
    """More than SQLite's 1,000-parameter chunk: it used to return only the first 1,000 ids'."""
    store = ThumbnailStore(tmp_path / "g.db.thumbs")
    try:
        ids = list(range(1, 2501))
        want = {i: f"png{i}".encode() for i in ids if i % 3}  # every third id has none
        store.put("a", list(want), list(want.values()))
        assert store.get(ids) == want
        assert store.get([]) == {}
    finally:
        store.close()


def test_a_failed_commit_leaves_the_store_usable(tmp_path):
    """A ``COMMIT`` that fails and leaves SQLite's transaction open is rolled back: the next
    ``put`` works instead of failing with "cannot start a transaction within a transaction"."""
    import sqlite3

    store = ThumbnailStore(tmp_path / "g.db.thumbs")
    real = store._conn

    class CommitFails:
        def execute(self, sql, *args):
            if sql == "COMMIT":
                raise sqlite3.OperationalError("disk I/O error")
            return real.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(real, name)

    store._conn = CommitFails()
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        store.put("alice", [1], [b"a"])
    store._conn = real
    store.put("bob", [2], [b"b"])
    assert store.get([1, 2]) == {2: b"b"}
    store.close()
