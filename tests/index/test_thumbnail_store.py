"""ThumbnailStore.get against a plain dict: any number of ids, only those stored."""

from __future__ import annotations

from pathlib import Path

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
