"""A file that is no gallery was refused as "notdb.db is not a siamkit gallery (file is not a
database)", which did not say what to give instead; it now names a gallery `siamkit enroll` or
`siamkit text enroll` made, or a new file name to start one (a foreign SQLite file too)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from siamkit.index import Gallery

TODO = (
    "it was left unchanged: give a gallery file that `siamkit enroll` or `siamkit text enroll` "
    "made, or a new file name to start one"
)


def test_a_file_that_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "notdb.db"
    path.write_text("hello " * 500)
    with pytest.raises(ValueError) as info:
        Gallery.open(path, embedding_dim=4)
    assert str(info.value) == f"{path} is not a siamkit gallery (file is not a database); {TODO}"
    assert path.read_text() == "hello " * 500


def test_an_sqlite_file_of_another_program(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users(name TEXT)")
    conn.close()
    with pytest.raises(ValueError) as info:
        Gallery.open(path, embedding_dim=4)
    assert str(info.value) == (
        f"{path} is an SQLite database but not a siamkit gallery (it has tables ['users']); {TODO}"
    )
