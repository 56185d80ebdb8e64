"""A file at a gallery's thumbnail path (``staff.db.thumbs``) that is no siamkit thumbnail file
was refused as "... is not a siamkit thumbnail file (...)", with no word of what to do: the
refusal (opening it, and a removal or enrollment that deletes thumbnails in it) now says to
move or rename it, after which the same call works with a new one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from siamkit.index import Gallery
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for

REMEDY = "it was left unchanged: move or rename it"


def _foreign(path: Path) -> bytes:
    """Another program's SQLite database at ``path``; its bytes."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes(text TEXT)")
    conn.commit()
    conn.close()
    return path.read_bytes()


def test_opening_a_foreign_thumbnail_file_says_to_move_it(tmp_path: Path) -> None:
    side = tmp_path / "staff.db.thumbs"
    before = _foreign(side)
    with pytest.raises(ValueError) as err:
        ThumbnailStore(side)
    said = str(err.value)
    assert said.startswith(f"{side} is not a siamkit thumbnail file (") and REMEDY in said
    assert side.read_bytes() == before
    side.rename(tmp_path / "notes.db")  # as the sentence says
    store = ThumbnailStore(side)
    store.put("alice", [1], [b"png"])
    assert store.get([1]) == {1: b"png"}
    store.close()


def test_a_removal_over_a_thumbnail_path_that_is_no_database_says_to_move_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "staff.db"
    with Gallery.open(db, embedding_dim=2) as g:
        g.enroll_embeddings("alice", np.ones((1, 2), np.float32))
        side = Path(thumbnails_path_for(db))
        side.write_bytes(before := b"not a database, " * 100)
        with pytest.raises(ValueError) as err:
            g.remove("alice")
        said = str(err.value)
        assert said.startswith(f"{side} is not a siamkit thumbnail file (") and REMEDY in said
        assert side.read_bytes() == before and "alice" in g  # nothing removed
        side.rename(tmp_path / "moved")  # as the sentence says
        assert g.remove("alice") == 1
