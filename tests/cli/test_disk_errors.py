"""A disk that refuses an output (full, read-only, no permission) ends a command with one
``Error:`` sentence saying what to do, not a traceback ending in ``[Errno 28]``; the refused
output is not left half-written."""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from siamkit.atomic import atomic_write
from siamkit.cli.main import LazyGroup


def _group(out: Path) -> click.Group:
    """A group of siamkit's kind with one command that writes ``out`` as the commands do."""

    @click.group(cls=LazyGroup)
    def group() -> None:
        pass

    @group.command()
    def write() -> None:
        atomic_write(out, b"<html>" * 1000)

    @group.command()
    def other() -> None:
        raise OSError(errno.EIO, "Input/output error")

    return group


@pytest.mark.parametrize(
    ("code", "strerror", "says"),
    [
        (
            errno.ENOSPC,
            "No space left on device",
            r"the disk is full \(no space left on device\) writing in .*out ü; free some space "
            r"or give an output path on another disk, and run it again",
        ),
        (  # the disk has room: the user's quota is used up ("the disk is full" before)
            errno.EDQUOT,
            "Disk quota exceeded",
            r"your disk quota is used up writing in .*out ü; free some of your files or give "
            r"an output path outside the quota \(or ask for a larger one\), and run it again",
        ),
        (
            errno.EROFS,
            "Read-only file system",
            r".*out ü is on a read-only file system; give an output path on a disk you can",
        ),
        (
            errno.EACCES,
            "Permission denied",
            r".*out ü: permission denied; give this user access to it",
        ),
    ],
)
def test_a_refused_write_is_one_sentence_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, strerror: str, says: str
) -> None:
    folder = tmp_path / "out ü"
    folder.mkdir()
    real_write = Path.write_bytes

    def write_bytes(self: Path, data: Any) -> int:
        real_write(self, data[:10])  # part of it reached the disk
        raise OSError(code, strerror, str(self))

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    result = CliRunner().invoke(_group(folder / "r.html"), ["write"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert re.fullmatch("Error: " + says + ".*", lines[0]), lines[0]
    assert list(folder.iterdir()) == []  # neither r.html nor its temporary


def test_another_os_error_is_not_dressed_as_a_disk_problem(tmp_path: Path) -> None:
    result = CliRunner().invoke(_group(tmp_path / "r.html"), ["other"])
    assert isinstance(result.exception, OSError) and result.exception.errno == errno.EIO


def test_a_full_disk_under_a_gallery_says_to_free_space(tmp_path: Path) -> None:
    """SQLite's 'database or disk is full' was the whole sentence; it now says what to do.
    max_page_count fills the database as a full disk does (SQLITE_FULL)."""
    import sqlite3

    from siamkit.cli._inputs import store_errors

    @click.command()
    @store_errors("gallery")
    def enroll() -> None:
        conn = sqlite3.connect(tmp_path / "g ü.db")
        conn.execute("CREATE TABLE items (embedding BLOB)")
        conn.execute("PRAGMA max_page_count = 3")
        for _ in range(10):
            conn.execute("INSERT INTO items VALUES (?)", (b"\0" * 4000,))

    result = CliRunner().invoke(enroll, [])
    assert result.exit_code == 1, result.output
    assert result.output == (
        "Error: the gallery file cannot be used: database or disk is full; free some space on "
        "its disk and run it again\n"
    )
