"""Gallery files: refused files left untouched, lock retries, thumbnails removed with a label, labels."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from siamkit.index import Gallery
from siamkit.index import store as store_module
from siamkit.index.store import GalleryStore, validate_label
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_foreign_sqlite_file_is_refused_and_left_exactly_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users(name TEXT)")
    conn.execute("INSERT INTO users VALUES ('x')")
    conn.commit()
    conn.close()
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"not a siamkit gallery.*left unchanged"):
        Gallery.open(path, embedding_dim=4)
    assert _snapshot(tmp_path) == before  # no -wal/-shm files, same bytes
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "delete"  # never switched to WAL


@pytest.mark.parametrize("content", [b"", b"name,age\nbob,3\n"])
def test_an_empty_or_text_file_opened_without_a_model_is_left_untouched(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "staff.db"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"not a gallery yet|not a siamkit gallery"):
        Gallery.open(path)
    assert _snapshot(tmp_path) == {"staff.db": content}


def test_an_empty_file_opened_as_an_existing_store_is_refused_untouched(tmp_path: Path) -> None:
    """create=False means an existing store: a 0-byte file is none (SQLite would make it one)."""
    path = tmp_path / "staff.db"
    path.write_bytes(b"")
    message = r"staff.db is empty \(0 bytes\), not a gallery; enroll something first"
    with pytest.raises(ValueError, match=message):
        GalleryStore(path, create=False)
    with pytest.raises(ValueError, match=message):
        Gallery.open(path, embedding_dim=4, create=False)
    assert _snapshot(tmp_path) == {"staff.db": b""}
    GalleryStore(path).close()  # allowed to create: an empty file is as good as none


class _LockedAtFirst:
    """A connection whose first ``n`` WAL switches fail at once, as SQLite does in a creation race."""

    def __init__(self, conn: sqlite3.Connection, n: int) -> None:
        self._conn, self.left = conn, n

    def execute(self, sql: str, *args: Any) -> Any:
        if "journal_mode=WAL" in sql and self.left:
            self.left -= 1
            raise sqlite3.OperationalError("database is locked")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _patch_connect(monkeypatch: pytest.MonkeyPatch, failures: int) -> None:
    real = sqlite3.connect
    monkeypatch.setattr(
        store_module.sqlite3, "connect", lambda *a, **k: _LockedAtFirst(real(*a, **k), failures)
    )


def test_a_lock_met_while_another_process_creates_the_file_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patch_connect(monkeypatch, failures=5)
    with GalleryStore(tmp_path / "g.db", timeout=5) as store:
        assert store.meta()["schema_version"] == "1"


def test_a_lock_that_outlasts_the_timeout_is_called_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patch_connect(monkeypatch, failures=10**9)
    with pytest.raises(ValueError, match="locked by another process") as info:
        GalleryStore(tmp_path / "g.db", timeout=0.2)
    assert "not a siamkit gallery" not in str(info.value)


def _gallery_with_thumbnails(path: Path) -> Gallery:
    g = Gallery.open(path, embedding_dim=3)
    rng = np.random.default_rng(0)
    thumbs = ThumbnailStore(thumbnails_path_for(path))
    for label in ("alice", "bob"):
        ids = g.enroll_embeddings(label, rng.standard_normal((2, 3)))
        thumbs.put(label, ids, [b"png-" + label.encode()] * 2)
    thumbs.close()
    return g


def _thumb_labels(path: Path) -> list[str]:
    conn = sqlite3.connect(thumbnails_path_for(path))
    try:
        return sorted(r[0] for r in conn.execute("SELECT label FROM thumbnails"))
    finally:
        conn.close()


def test_removing_a_label_in_the_library_removes_its_thumbnails(tmp_path: Path) -> None:
    path = tmp_path / "staff.db"
    with _gallery_with_thumbnails(path) as g:
        assert g.remove("alice") == 2
    assert _thumb_labels(path) == ["bob", "bob"]


def test_removing_a_label_from_the_command_line_removes_its_thumbnails(tmp_path: Path) -> None:
    from siamkit.cli.main import cli

    path = tmp_path / "staff.db"
    _gallery_with_thumbnails(path).close()
    result = CliRunner().invoke(cli, ["gallery", str(path), "remove", "bob"])
    assert result.exit_code == 0, result.output
    assert _thumb_labels(path) == ["alice", "alice"]


def test_an_emoji_label_joined_by_zwj_is_text_not_control_characters() -> None:
    for label in ("👩\u200d💻", "👨\u200d👩\u200d👧", "क्\u200dष"):
        assert validate_label(label) == label
    with pytest.raises(ValueError, match="U\\+202E \\(RIGHT-TO-LEFT OVERRIDE\\)"):
        validate_label("evil\u202etxt")
    with pytest.raises(ValueError, match="U\\+0007 \\(unnamed\\), a control character"):
        validate_label("bell\x07")
    # a label pasted with a line break: its character named, not "unnamed"
    with pytest.raises(ValueError, match="U\\+000A \\(LINE FEED\\), a control character"):
        validate_label("alice\nsmith")


def test_an_emoji_label_round_trips_through_the_gallery(tmp_path: Path) -> None:
    with Gallery.open(tmp_path / "g.db", embedding_dim=2) as g:
        g.enroll_embeddings("👩\u200d💻", np.ones((1, 2)))
        assert [i.label for i in g.labels()] == ["👩\u200d💻"]


def test_a_foreign_thumbnail_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "staff.db.thumbs"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes(text TEXT)")
    conn.commit()
    conn.close()
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"not a siamkit thumbnail file.*left unchanged"):
        ThumbnailStore(path)
    assert _snapshot(tmp_path) == before


def test_a_new_gallery_in_a_missing_folder_creates_the_folder_and_an_existing_one_does_not(
    tmp_path: Path,
) -> None:
    # enrolling into runs/new/staff.db makes runs/new, as `siamkit text enroll` and every --out do
    path = tmp_path / "new" / "deeper" / "staff.db"
    with Gallery.open(path, embedding_dim=4) as g:
        g.enroll_embeddings("alice", np.eye(4, dtype=np.float32)[:1])
    assert path.is_file()
    # opening one that must exist (identify, verify, `siamkit gallery`) creates nothing
    missing = tmp_path / "absent" / "staff.db"
    with pytest.raises(FileNotFoundError, match="no gallery at"):
        GalleryStore(missing, create=False)
    assert not missing.parent.exists()
    # a gallery below a file (notes.txt/g.db, notes.txt/sub/g.db) is one sentence naming the
    # file, not sqlite3's "unable to open database file"; the file is left as it was
    (tmp_path / "file").write_text("x")
    for below in ("g.db", "sub/g.db"):
        with pytest.raises(ValueError, match=r"cannot be written because .*file is a file, not a"):
            Gallery.open(tmp_path / "file" / below, embedding_dim=4)
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize("read_only", ["folder", "file"])
def test_a_gallery_in_a_read_only_place_is_named_so_not_called_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_only: str
) -> None:
    """On a read-only mount SQLite said 'unable to open database file', which the command
    showed as 'not a siamkit gallery'. access(2) stands in for the mount (root writes a chmod
    555 folder), so the refusal must come before SQLite is asked."""
    folder = tmp_path / "ro ü"
    folder.mkdir()
    path = folder / "g ü.db"
    Gallery.open(path, embedding_dim=2).close()
    before = _snapshot(folder)
    denied = folder if read_only == "folder" else path
    real_access = store_module.os.access
    monkeypatch.setattr(
        store_module.os,
        "access",
        lambda p, mode: not (Path(p) == denied and mode & os.W_OK) and real_access(p, mode),
    )
    where = rf"its folder {folder}" if read_only == "folder" else "the file"
    says = rf"the gallery {path} cannot be opened: {where} is read-only for this user, and SQLite"
    for create in (False, True):
        with pytest.raises(ValueError, match=says):
            GalleryStore(path, create=create)
    from siamkit.cli.main import cli

    result = CliRunner().invoke(cli, ["gallery", str(path), "list"])
    assert result.exit_code == 1, result.output
    assert re.match(f"Error: {says}", result.output) and result.output.count("\n") == 1
    assert _snapshot(folder) == before


def test_a_file_name_that_is_not_utf8_is_kept_as_a_source_and_utf8_names_intact(
    tmp_path: Path,
) -> None:
    """A Latin-1 file name on Linux (bytes b'bild \\xe9.png', as os.fsdecode gives it to Python)
    made siamkit enroll fail: "'utf-8' codec can't encode character '\\udce9' ... surrogates not
    allowed". Its byte is kept as a \\xe9 escape; a UTF-8 name (NFC or NFD) is kept as it is."""
    latin = os.fsdecode(b"/photos/bild \xe9.png")
    nfc, nfd = "/My Photos/Café 2024/ü ñ.PNG", "/My Photos/Cafe\u0301/x"
    with GalleryStore(tmp_path / "g.db") as store:
        store.init_meta({"embedding_dim": "2"})  # a store records its size before its rows
        ids = store.add("p", np.eye(3, 2, dtype=np.float32), sources=[latin, nfc, nfd])
        assert store.sources_of(ids) == dict(zip(ids, ["/photos/bild \\xe9.png", nfc, nfd]))
