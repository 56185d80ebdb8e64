"""A gallery file as a whole: removed when a first enrollment left it unused (never while another
process has it open, never with items in it), checked (SQLite's integrity check, every embedding's
size and values, the model that made it), and backed up with SQLite's online backup API while
another connection holds it open in the middle of a write."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from siamkit.index.store import GalleryStore
from siamkit.index.store_files import backup_gallery_file, check_gallery_file, remove_if_unused
from siamkit.index.thumbnail_store import ThumbnailStore

META = {"embedding_dim": "4", "distance": "euclidean", "model_fingerprint": "none"}


def make_gallery(path: Path, labels: int = 2, per_label: int = 2, dim: int = 4) -> Path:
    rng = np.random.default_rng(0)
    with GalleryStore(path) as store:
        store.init_meta({**META, "embedding_dim": str(dim)})
        for k in range(labels):
            store.add(f"label-{k}", rng.normal(size=(per_label, dim)).astype(np.float32))
    return path


def items_of(path: Path) -> list[tuple[int, str, bytes]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT id, label, embedding FROM items ORDER BY id").fetchall()


def set_embedding(path: Path, item_id: int, blob: bytes) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE items SET embedding = ? WHERE id = ?", (blob, item_id))
    conn.close()


# ------------------------------------------------------------------ remove_if_unused
def test_an_unused_gallery_is_removed_with_the_files_beside_it(tmp_path):
    db = tmp_path / "new.db"
    with GalleryStore(db) as store:
        store.init_meta(META)
    assert remove_if_unused(db)
    assert sorted(tmp_path.iterdir()) == []


def test_a_gallery_with_items_is_never_removed(tmp_path):
    db = make_gallery(tmp_path / "staff.db")
    before = items_of(db)
    assert not remove_if_unused(db)
    assert items_of(db) == before


def test_a_gallery_another_connection_has_open_is_not_removed(tmp_path):
    # another process may be about to enroll into it: removing it under that process would lose
    # what it commits there
    db = tmp_path / "new.db"
    with GalleryStore(db) as other:
        other.init_meta(META)
        assert not remove_if_unused(db)
        assert db.exists()
        assert other.add("alice", np.ones((1, 4), np.float32)) == [1]
    assert [r[1] for r in items_of(db)] == ["alice"]


def test_thumbnails_without_rows_are_removed_and_other_files_left_alone(tmp_path):
    thumbs = tmp_path / "new.db.thumbs"
    ThumbnailStore(thumbs).close()
    assert remove_if_unused(thumbs, "thumbnails")
    assert not thumbs.exists()
    text = tmp_path / "notes.txt"
    text.write_text("not a database, " * 300)
    assert not remove_if_unused(text)
    assert text.exists()


def test_a_file_that_cannot_be_deleted_is_kept_and_the_first_error_stays(tmp_path, monkeypatch):
    # the unlink failing (a folder without write permission) raised its OSError out of
    # new_gallery_removed_if_unused's except clause, in place of the Ctrl-C that stopped enroll
    from siamkit.cli._new_gallery import new_gallery_removed_if_unused

    db = tmp_path / "new.db"
    real_unlink = Path.unlink

    def refuse(self: Path, missing_ok: bool = False) -> None:
        if self.name == "new.db":
            raise PermissionError(13, "Permission denied", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(KeyboardInterrupt), new_gallery_removed_if_unused(str(db)):
        GalleryStore(db).close()
        raise KeyboardInterrupt
    assert db.exists()
    assert not remove_if_unused(db)


def test_a_file_sqlite_cannot_open_is_kept_and_the_first_error_stays(tmp_path, monkeypatch):
    # sqlite3.connect was outside the try: its error came out of new_gallery_removed_if_unused's
    # except clause in place of the one that stopped enroll
    from siamkit.cli._new_gallery import new_gallery_removed_if_unused
    from siamkit.index import store_files

    db = tmp_path / "new.db"

    def cannot_open(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    with pytest.raises(KeyboardInterrupt), new_gallery_removed_if_unused(str(db)):
        GalleryStore(db).close()
        monkeypatch.setattr(store_files.sqlite3, "connect", cannot_open)
        raise KeyboardInterrupt
    assert db.exists()
    assert not remove_if_unused(db)


# ------------------------------------------------------------------ check_gallery_file
def test_a_sound_gallery_checks_ok(tmp_path):
    found = check_gallery_file(make_gallery(tmp_path / "staff.db", labels=3))
    assert found.ok, found.problems
    assert (found.integrity, found.num_items, found.num_labels) == ("ok", 6, 3)
    assert (found.embedding_dim, found.model_fingerprint) == (4, "none")


def test_a_nan_embedding_is_named_by_item_and_label(tmp_path):
    db = make_gallery(tmp_path / "staff.db")
    set_embedding(db, 3, np.array([0.5, np.nan, 0.1, 0.2], "<f4").tobytes())
    found = check_gallery_file(db)
    assert not found.ok
    assert found.problems == (
        f"{db} has 1 embedding with NaN or infinite values, which no search can rank: "
        f"item 3 ('label-1'); remove them (`siamkit gallery {db} remove --id 3`) and enroll "
        "them again",
    )


def test_an_embedding_of_another_size_is_named(tmp_path):
    db = make_gallery(tmp_path / "staff.db")
    set_embedding(db, 2, np.ones(3, "<f4").tobytes())
    (problem,) = check_gallery_file(db).problems
    assert "1 embedding that is not 4 float32 values" in problem
    assert "item 2 ('label-0')" in problem
    assert problem.endswith(
        f"remove them (`siamkit gallery {db} remove --id 2`) and enroll them again"
    )


def test_more_bad_items_than_named_are_all_in_the_command(tmp_path):
    # the command named only the 3 items the sentence names ("one --id for each"), and neither
    # the text nor --json named the other 2
    db = make_gallery(tmp_path / "staff.db", labels=1, per_label=6)
    for i in (1, 2, 3, 5, 6):
        set_embedding(db, i, np.full(4, np.nan, "<f4").tobytes())
    (problem,) = check_gallery_file(db).problems
    assert problem.endswith(
        f"item 1 ('label-0'), item 2 ('label-0'), item 3 ('label-0') and 2 more; remove them "
        f"(`siamkit gallery {db} remove --id 1 --id 2 --id 3 --id 5 --id 6`) and enroll them "
        "again"
    )


def test_thousands_of_bad_items_are_no_wall_of_ids(tmp_path):
    # the command named every one of them: 3,000 bad items made a sentence of 3,000 --id (about
    # 30,000 characters); it names 20, says where every id is listed, and --json lists them:
    # every bad item's id, the wrong-size item 2 too (it said "the ids of all 2995", the NaN ones)
    db = make_gallery(tmp_path / "staff.db", labels=3, per_label=1000)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        nan = np.full(4, np.nan, "<f4").tobytes()
        conn.execute("UPDATE items SET embedding = ? WHERE id > 5", (nan,))
        conn.execute("UPDATE items SET embedding = ? WHERE id = 2", (b"short",))
    found = check_gallery_file(db)
    wrong, bad = found.problems
    first = " ".join(f"--id {i}" for i in range(6, 26))
    assert bad == (
        f"{db} has 2,995 embeddings with NaN or infinite values, which no search can rank: "
        "item 6 ('label-0'), item 7 ('label-0'), item 8 ('label-0') and 2,992 more; remove them "
        f"(`siamkit gallery {db} remove {first}` removes the first 20; `siamkit gallery {db} "
        "check --json` lists every bad item's id under bad_item_ids) and enroll them again"
    )
    assert wrong.endswith(
        f"remove them (`siamkit gallery {db} remove --id 2`) and enroll them again"
    )
    assert found.bad_item_ids == (2, *range(6, 3001))


def test_a_damaged_file_fails_the_integrity_check(tmp_path):
    db = make_gallery(tmp_path / "big.db", labels=20, per_label=10, dim=64)
    assert check_gallery_file(db).ok
    with open(db, "r+b") as f:  # the middle of the items table's pages
        f.seek(5 * 4096 + 100)
        f.write(b"\xa5" * 2000)
    found = check_gallery_file(db)
    assert found.integrity != "ok"
    (problem,) = found.problems
    assert problem.startswith(f"SQLite's integrity check finds {db} damaged (")
    assert problem.endswith(
        "restore it from a backup, or enroll its images again into a new gallery file"
    )


def test_a_file_that_is_no_database_is_said_so(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"x" * 5000)
    (problem,) = check_gallery_file(junk).problems
    assert problem.startswith(f"{junk} cannot be read as a gallery (file is not a database)")
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    (problem,) = check_gallery_file(other).problems
    assert "is an SQLite file but no siamkit gallery (its tables: ['notes'])" in problem


def test_the_model_given_must_have_made_it(tmp_path):
    db = make_gallery(tmp_path / "staff.db")
    assert check_gallery_file(db, META).ok
    (problem,) = check_gallery_file(db, {**META, "model_fingerprint": "f" * 64}).problems
    assert problem.startswith(f"{db} was built by a different model (fingerprint none, distance")
    (problem,) = check_gallery_file(db, {**META, "embedding_dim": "8"}).problems
    assert problem.startswith(f"{db} holds 4-d embeddings but this model makes 8-d ones")


def test_a_gallery_the_model_cannot_open_never_checks_ok(tmp_path):
    # a half-twin's gallery enrolled by an older siamkit (no enrolled_tower recorded) is refused
    # by Gallery.open (check_enrolled_tower); `gallery check --model` said ok for it
    db = make_gallery(tmp_path / "staff.db")
    wanted = {**META, "enrolled_tower": "document"}
    (problem,) = check_gallery_file(db, wanted).problems
    assert problem.startswith(f"{db} was enrolled with this half-twin model (two towers)")
    assert problem.endswith("enroll them again into a new gallery file.")
    empty = make_gallery(tmp_path / "empty.db", labels=0)  # opening records the tower: fine
    assert check_gallery_file(empty, wanted).ok


def test_no_file_and_an_empty_file_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no gallery at"):
        check_gallery_file(tmp_path / "missing.db")
    (tmp_path / "empty.db").touch()
    with pytest.raises(ValueError, match=r"is empty \(0 bytes\), not a gallery"):
        check_gallery_file(tmp_path / "empty.db")


# ------------------------------------------------------------------ backup_gallery_file
def test_a_backup_holds_the_committed_items_while_another_connection_writes(tmp_path):
    db = make_gallery(tmp_path / "staff.db")
    with contextlib.closing(ThumbnailStore(f"{db}.thumbs")) as thumbs:
        thumbs.put("label-0", [1], [b"png"])
    committed = items_of(db)
    with GalleryStore(db) as writer:  # the service, in the middle of an enrollment
        writer._conn.execute("BEGIN IMMEDIATE")
        writer._conn.execute(
            "INSERT INTO items(label, embedding, created) VALUES ('late', ?, 0)",
            (np.zeros(4, "<f4").tobytes(),),
        )
        done = backup_gallery_file(db, tmp_path / "backups" / "monday.db", timeout=1)
        writer._conn.execute("ROLLBACK")
    copy = tmp_path / "backups" / "monday.db"
    assert sorted(p.name for p in copy.parent.iterdir()) == ["monday.db", "monday.db.thumbs"]
    assert (done.out, done.num_items, done.num_labels) == (str(copy), 4, 2)
    assert items_of(copy) == committed
    assert done.thumbnails == f"{copy}.thumbs"
    with contextlib.closing(ThumbnailStore(done.thumbnails)) as thumbs:
        assert thumbs.get([1]) == {1: b"png"}
    assert check_gallery_file(copy).ok


def test_a_backup_is_not_written_over_an_existing_file_unless_forced(tmp_path):
    db = make_gallery(tmp_path / "staff.db")
    out = tmp_path / "out.db"
    out.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="already exists; give another path, or force=True"):
        backup_gallery_file(db, out)
    assert out.read_bytes() == b"keep me"
    stale = Path(f"{out}.thumbs")  # an older backup's thumbnails belong to its items, not these
    stale.write_bytes(b"old")
    backup_gallery_file(db, out, force=True)
    assert items_of(out) == items_of(db)
    assert not stale.exists()


def test_a_backup_onto_the_gallery_itself_is_refused(tmp_path):
    db = make_gallery(tmp_path / "staff.db")
    with pytest.raises(ValueError, match="is the gallery itself"):
        backup_gallery_file(db, tmp_path / "." / "staff.db", force=True)
    assert len(items_of(db)) == 4


def test_a_backup_of_an_sqlite_file_that_is_no_gallery_is_refused(tmp_path):
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(ValueError, match=r"is an SQLite file but no siamkit gallery \(its tables"):
        backup_gallery_file(other, tmp_path / "out.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
