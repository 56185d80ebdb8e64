"""``siamkit gallery FILE check`` printed "ok" (exit status 0) for a gallery whose thumbnail file
(``FILE.thumbs``) was damaged, though the service then answered 503 to every request that shows
or deletes thumbnails, and the commands that do refused (reviewer s52_R10): a side file that
could not be read was left to them. The check now runs SQLite's integrity check on the side file
too, and a damaged one, or a file there that is no thumbnail file, is a problem naming it."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.index import Gallery
from siamkit.index.store_files import check_gallery_file
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for


@pytest.fixture
def gallery(tmp_path) -> Path:
    """5 items of alice with thumbnails, the side file's WAL checkpointed into it."""
    path = tmp_path / "g.db"
    z = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    with Gallery.open(path, embedding_dim=8, distance="euclidean", threshold=1.0) as g:
        ids = g.enroll_embeddings("alice", z)
    store = ThumbnailStore(thumbnails_path_for(path))
    store.put("alice", ids, [b"png" * 300] * 5)
    store.close()
    return path


def _check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["gallery", str(path), "check"])
    return result.exit_code, result.output


def test_a_damaged_thumbnail_file_is_a_problem_of_the_check(gallery):
    assert check_gallery_file(gallery).ok and _check(gallery)[0] == 0  # sound: ok as before
    side = thumbnails_path_for(gallery)
    with contextlib.closing(sqlite3.connect(side)) as conn:  # the thumbnails table's root page
        sql = "SELECT rootpage FROM sqlite_master WHERE name = 'thumbnails'"
        root = conn.execute(sql).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(side, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * page_size)
    conn = sqlite3.connect(side)  # what SQLite itself says of it
    with contextlib.closing(conn), pytest.raises(sqlite3.DatabaseError, match="malformed"):
        conn.execute("SELECT * FROM thumbnails").fetchall()
    found = check_gallery_file(gallery)
    assert found.integrity == "ok" and found.num_items == 5  # the gallery is sound
    assert not found.ok and len(found.problems) == 1
    problem = found.problems[0]
    assert problem.startswith(f"SQLite's integrity check finds {side}, the thumbnail file beside")
    assert "move it aside" in problem and "the gallery's items are not in it" in problem
    code, output = _check(gallery)
    assert code == 1 and f"Error: SQLite's integrity check finds {side}" in output, output
    assert "\nok" not in output


@pytest.mark.parametrize(
    ("content", "why"),
    [("text", "file is not a database"), ("tables", "it has other tables: ['other']")],
)
def test_a_file_at_the_thumbnail_path_that_is_none_is_a_problem(gallery, content, why):
    side = Path(thumbnails_path_for(gallery))
    side.unlink()
    if content == "text":
        side.write_bytes(b"not a thumbnail file\n" * 500)
    else:
        with contextlib.closing(sqlite3.connect(side)) as conn:
            conn.execute("CREATE TABLE other (x)")
    found = check_gallery_file(gallery)
    assert found.integrity == "ok" and found.num_items == 5
    assert found.problems == (
        f"{side}, at the path where the gallery keeps its thumbnails, is not a siamkit thumbnail "
        f"file ({why}); the gallery is not in it: move or rename it, and a new one is made there "
        "at the next enrollment or start of the service (without the thumbnails of the items "
        "enrolled so far)",
    )
    with pytest.raises(ValueError, match="is not a siamkit thumbnail file"):
        ThumbnailStore(side)  # what the service and the commands say of it
    assert _check(gallery)[0] == 1


def test_a_side_file_without_the_table_yet_is_no_problem(gallery):
    """An empty side file (made, its table not yet) is what ThumbnailStore takes and sets up."""
    side = Path(thumbnails_path_for(gallery))
    side.unlink()
    with contextlib.closing(sqlite3.connect(side)) as conn:
        conn.execute("PRAGMA user_version = 0")
    assert check_gallery_file(gallery).problems == ()


def test_an_index_out_of_step_with_its_table_is_a_problem_of_the_check(gallery):
    """One thumbnails row gone, its ``thumbnails_label`` entry kept (reviewer s52_R15): SQLite's
    quick check sees nothing, the listings refuse the file; the check said "ok"."""
    side = thumbnails_path_for(gallery)
    sql = "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master WHERE name = ?"
    with contextlib.closing(sqlite3.connect(side, isolation_level=None)) as conn:
        index = conn.execute(sql, ("thumbnails_label",)).fetchone()
        conn.execute("PRAGMA writable_schema = ON")  # the row deleted with its index unseen
        conn.execute("DELETE FROM sqlite_master WHERE name = 'thumbnails_label'")
    with contextlib.closing(sqlite3.connect(side, isolation_level=None)) as conn:
        conn.execute("DELETE FROM thumbnails WHERE item_id = (SELECT min(item_id) FROM thumbnails)")
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("INSERT INTO sqlite_master VALUES (?, ?, ?, ?, ?)", index)
    with contextlib.closing(sqlite3.connect(side)) as conn:  # what SQLite itself says of it
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]
    store = ThumbnailStore(side)  # the listings refuse it
    with contextlib.closing(store), pytest.raises(Exception, match="is damaged"):
        store.of_label("alice", gallery=gallery)
    found = check_gallery_file(gallery)
    assert found.integrity == "ok" and found.num_items == 5  # the gallery is sound
    assert not found.ok and len(found.problems) == 1
    assert found.problems[0].startswith(f"SQLite's integrity check finds {side}, the thumbnail")
    assert "thumbnails_label" in found.problems[0]
