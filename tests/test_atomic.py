"""atomic_write: all or nothing, flushed to disk before the rename."""

from __future__ import annotations

import os
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
