"""ThumbnailStore.get against a plain dict: any number of ids, only those stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for


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


class _LockedOnce:
    """An SQLite connection whose first switch to WAL answers "database is locked" at once, as
    SQLite does when two processes create the file together (seen on CI: two text enrollments
    opening one gallery's new .thumbs side file)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.failed = conn, 0

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith("PRAGMA journal_mode") and not self.failed:
            self.failed += 1
            raise sqlite3.OperationalError("database is locked")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)


def test_a_file_locked_while_another_process_creates_it_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gallery's own file retried a transient lock while two processes created it
    (retry_locked); its thumbnail side file refused itself as 'not a siamkit thumbnail file
    (database is locked)'. It now retries the same way and opens."""
    import siamkit.index.thumbnail_store as ts

    made: list[_LockedOnce] = []
    real = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> _LockedOnce:
        made.append(_LockedOnce(real(*args, **kwargs)))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(ts.sqlite3, "connect", connect)
    store = ThumbnailStore(tmp_path / "g.db.thumbs")
    assert made[0].failed == 1  # the lock was met, and retried
    try:
        store.put("a", [1], [b"png"])
        assert store.get([1]) == {1: b"png"}
    finally:
        store.close()


def test_put_enrolled_keeps_the_new_items_and_refuses_a_count_that_does_not_fit() -> None:
    """put_enrolled (the service's /enroll and siamkit enroll) stores one thumbnail per new item,
    leaving out the inputs skipped as repeats; thumbnails that are not one per input are refused
    before anything is stored, not matched to the wrong items."""
    from siamkit.index.results import EnrolledIds

    store = ThumbnailStore(":memory:")
    store.put_enrolled("alice", EnrolledIds([4, 5], skipped=[1]), [b"a", b"repeat", b"c"])
    store.put_enrolled("bob", EnrolledIds([], skipped=[0]), [b"repeat"])  # all skipped: nothing
    assert store.get(range(10)) == {4: b"a", 5: b"c"}
    with pytest.raises(ValueError, match="got 2 thumbnails for 2 new and 1 skipped inputs"):
        store.put_enrolled("carol", EnrolledIds([6, 7], skipped=[0]), [b"x", b"y"])
    assert store.get(range(10)) == {4: b"a", 5: b"c"}
    store.close()


def test_a_locked_side_file_is_a_locked_gallery_not_a_foreign_file(tmp_path: Path) -> None:
    """Deleting thumbnails while another process holds the side file's write lock past the wait
    said '... is not a siamkit thumbnail file (database is locked)', a ValueError the service
    answered with a 500; the OperationalError now goes through, as the gallery's own does (503,
    the CLI's store errors)."""
    from siamkit.index.thumbnail_store import remove_item_thumbnails, remove_thumbnails

    gallery = tmp_path / "g.db"
    store = ThumbnailStore(thumbnails_path_for(gallery))
    store.put("alice", [1], [b"png"])
    store.close()
    holder = sqlite3.connect(thumbnails_path_for(gallery), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            remove_thumbnails(gallery, "alice", timeout=0.05)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            remove_item_thumbnails(gallery, [1], timeout=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert remove_item_thumbnails(gallery, [1]) == 1
