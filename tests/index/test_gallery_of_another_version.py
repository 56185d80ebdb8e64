"""A gallery file written by another siamkit version (another ``schema_version`` in its meta)
was refused by the open as "g.db has gallery schema 2; this siamkit reads 1", which said nothing
to do, while ``check_gallery_file`` (``siamkit gallery FILE check``) found nothing wrong with the
file that no command could open. Both now name the other version and what to do; the file is
left as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from siamkit.index import Gallery
from siamkit.index.store_files import check_gallery_file

SAID = (
    "has gallery schema 2, written by another siamkit version: this one reads schema 1 only, "
    "so the file was left as it is; open it with the siamkit that wrote it, or enroll its "
    "images again into a new gallery file"
)


@pytest.fixture
def newer(tmp_path: Path) -> Path:
    path = tmp_path / "newer.db"
    with Gallery.open(path, embedding_dim=4, distance="euclidean") as gallery:
        gallery.enroll_embeddings("alice", np.eye(4, dtype=np.float32)[:2])
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.close()
    return path


def test_the_open_names_the_other_version_and_what_to_do(newer: Path) -> None:
    before = newer.read_bytes()
    with pytest.raises(ValueError) as info:
        Gallery.open(newer, create=False)
    assert str(info.value) == f"{newer} {SAID}"
    assert newer.read_bytes() == before


def test_the_check_finds_the_gallery_of_another_version_wrong(newer: Path) -> None:
    found = check_gallery_file(newer)
    assert not found.ok
    assert found.problems == (f"{newer} {SAID}",)
    assert (found.num_items, found.embedding_dim) == (2, 4)  # what it holds is still told


def test_another_versions_gallery_with_a_table_of_its_own_is_named_so_by_open_and_check(
    newer: Path,
) -> None:
    """A later schema may add a table: the open called such a file "not a siamkit gallery (it
    has tables [...])", while the check named its schema; both name the schema now. Another
    program's file with a ``meta`` of its own is still no gallery."""
    conn = sqlite3.connect(newer)
    with conn:
        conn.execute("CREATE TABLE sources (id INTEGER PRIMARY KEY, path TEXT)")
    conn.close()
    before = newer.read_bytes()
    with pytest.raises(ValueError) as info:
        Gallery.open(newer, create=False)
    assert str(info.value) == f"{newer} {SAID}"
    assert check_gallery_file(newer).problems == (f"{newer} {SAID}",)
    assert newer.read_bytes() == before

    other = newer.parent / "other.db"
    conn = sqlite3.connect(other)
    with conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '7')")
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    with pytest.raises(ValueError, match="is an SQLite database but not a siamkit gallery"):
        Gallery.open(other, create=False)
