"""atomic_write: all or nothing, flushed to disk before the rename."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import siamkit.atomic as atomic
from siamkit.atomic import atomic_path, atomic_write


def test_writes_text_and_bytes_and_fsyncs_before_the_rename(tmp_path: Path, monkeypatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(
        atomic.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))
    )
    atomic_write(tmp_path / "sub" / "a.json", '{"x": "é"}')
    assert (tmp_path / "sub" / "a.json").read_text(encoding="utf-8") == '{"x": "é"}'
    assert events == ["fsync", "replace"]
    atomic_write(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    atomic_write(target, "old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_suffix_keeps_the_format_ending_and_durable_false_skips_only_the_flush(
    tmp_path: Path, monkeypatch
) -> None:
    seen: list[str] = []
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    with atomic_path(tmp_path / "a.png", suffix=".png", durable=False) as tmp:
        seen.append(tmp.name)
        tmp.write_bytes(b"png")
    assert seen[0].startswith(".a.png.tmp-") and seen[0].endswith(".png")
    assert (tmp_path / "a.png").read_bytes() == b"png" and fsyncs == []
    with pytest.raises(ValueError), atomic_path(tmp_path / "a.png", durable=False) as tmp:
        tmp.write_bytes(b"half")
        raise ValueError("interrupted")
    assert (tmp_path / "a.png").read_bytes() == b"png"  # still all or nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    atomic_write(tmp_path / "a.png", b"new")
    assert len(fsyncs) == 1


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "siamkit.json"
    atomic_write(target, "{}")
    target.chmod(0o640)
    atomic_write(target, '{"threshold": 0.4}')
    assert target.stat().st_mode & 0o777 == 0o640
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "new.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o644


def test_sigterm_in_the_siamkit_command_removes_the_temporary(tmp_path: Path) -> None:
    """`siamkit`'s entry point turns SIGTERM into SystemExit(143), so a write in progress is
    rolled back as on Ctrl-C (Python's default SIGTERM left the temporary file behind)."""
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    code = textwrap.dedent(
        f"""
        import os, signal, time
        from siamkit.atomic import atomic_path
        from siamkit.cli.main import exit_on_sigterm
        exit_on_sigterm()
        with atomic_path({str(target)!r}) as tmp:
            tmp.write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        """
    )
    res = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True)
    assert res.returncode == 143, res.stderr.decode()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_the_siamkit_entry_point_installs_the_sigterm_handler(monkeypatch) -> None:
    """While its command runs, and only then: the caller's handler is back once main() returns
    (the at-once handler main() left behind took a later SIGTERM from the program that went
    on, tests/cli/test_sigterm_at_exit.py)."""
    import signal

    import siamkit.cli.main as entry

    before = signal.getsignal(signal.SIGTERM)
    during: list[object] = []
    monkeypatch.setattr(entry, "cli", lambda **kw: during.append(signal.getsignal(signal.SIGTERM)))
    entry.main()
    assert callable(during[0]) and during[0] is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_read_utf8_names_the_file_line_and_byte_of_latin1_text(tmp_path: Path) -> None:
    p = tmp_path / "list.csv"
    p.write_bytes(b"\xef\xbb\xbfa,b\ncaf\xc3\xa9,1\ncaf\xe9,2\n")
    with pytest.raises(atomic.NotUtf8Error) as err:
        atomic.read_utf8(p)
    assert str(err.value) == (  # the offset in the file, its byte-order mark counted
        f"{p} line 3: byte 0xe9 at offset 18 is not UTF-8 text; save the file as UTF-8"
    )
    p.write_bytes(b"\xef\xbb\xbfa,b\ncaf\xc3\xa9,1\n")
    assert atomic.read_utf8(p) == "a,b\ncaf\u00e9,1\n"  # the byte-order mark dropped


def test_check_writable_folder_refuses_a_folder_below_a_file_and_allows_a_new_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.txt").write_text("x")
    for below in ("notes.txt", "notes.txt/run", "notes.txt/a/run"):
        with pytest.raises(ValueError, match=r"--out .* because .*notes\.txt is a file, not a"):
            atomic.check_writable_folder(tmp_path / below, f"--out {tmp_path / below}")
    atomic.check_writable_folder(tmp_path / "new" / "run", "--out new/run")  # made later
    atomic.check_writable_folder(tmp_path, "--out .")
    assert (tmp_path / "notes.txt").read_text() == "x" and not (tmp_path / "new").exists()


def test_check_writable_refuses_a_read_only_folder_before_any_work(
    tmp_path: Path, monkeypatch
) -> None:
    # a read-only mount (or a folder without write permission) as access(2) reports it; root
    # passes a chmod 555 folder, so the refusal is driven through access itself
    ro = tmp_path / "ro ü"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(atomic.os, "access", lambda p, mode: Path(p) != ro and real_access(p, mode))
    message = rf"because the folder {re.escape(str(ro))} is read-only for this user; give a path"
    with pytest.raises(ValueError, match=rf"--report .* cannot be written {message}"):
        atomic.check_writable_file(ro / "r.html", "--report r.html")
    with pytest.raises(ValueError, match=rf"--out .* cannot be made {message}"):
        atomic.check_writable_folder(ro / "run" / "a", "--out run/a")
    with pytest.raises(ValueError, match=rf"--out .* cannot be written {message}"):
        atomic.check_writable_folder(ro, "--out ro")
    atomic.check_writable_file(tmp_path / "r.html", "--report r.html")  # a writable folder
    atomic.check_writable_folder(tmp_path / "new", "--out new")
    assert list(ro.iterdir()) == [] and not (tmp_path / "new").exists()
