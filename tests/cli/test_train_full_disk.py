"""A new ``siamkit train`` run on a full disk failed at its first checkpoint and left its
``config.yaml`` in a new --out folder, saying only that the disk was full: a new run that fails
before its first checkpoint now removes what it made (never a user's folder or their files),
and says how much the checkpoint needed."""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from siamkit.cli.main import cli

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def _refuse_writes(monkeypatch: pytest.MonkeyPatch, code: int, reason: str) -> None:
    """Writing any file with torch.save fails part-way with ``code``."""
    real = torch.save

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        if not hasattr(f, "fileno"):  # a buffer or a counter, not the disk
            return real(obj, f, *args, **kwargs)
        f.write(b"\0" * 512)
        raise OSError(code, reason)

    monkeypatch.setattr(torch, "save", save)


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing any file with torch.save fails part-way, as a full disk does."""
    _refuse_writes(monkeypatch, errno.ENOSPC, "No space left on device")


def _train(out: Path) -> tuple[int, str]:
    args = ["train", str(TINY), "--out", str(out), "--no-progress"]
    res = CliRunner().invoke(cli, [*args, "--set", "train.steps_per_epoch=1"])
    return res.exit_code, res.output.strip().splitlines()[-1]


NEEDED = r"Error: the disk is full: writing {} needed [\d.]+ KiB and [\d.]+ [GMK]iB was free "


@pytest.mark.usefixtures("full_disk")
def test_a_new_folder_is_removed_and_the_size_needed_named(tmp_path: Path) -> None:
    out = tmp_path / "new" / "run"  # both folders made by the run
    code, last = _train(out)
    assert code == 1, last
    assert re.fullmatch(
        NEEDED.format(re.escape(str(out / "checkpoint.pt")))
        + re.escape(
            f"(the new folder {tmp_path / 'new'} was removed: the run had written no "
            "checkpoint); free some space or give an --out on another disk, and run it again"
        ),
        last,
    ), last
    assert sorted(tmp_path.iterdir()) == []


def test_a_used_up_quota_is_named_as_a_full_disk_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quota used up (``EDQUOT``; the disk has room) failed the first checkpoint with the
    generic sentence, no size and no word of the folder removed: it is now named as a full disk
    is, with what to do about a quota (the disk's free bytes say nothing of it)."""
    _refuse_writes(monkeypatch, errno.EDQUOT, "Disk quota exceeded")
    out = tmp_path / "new" / "run"
    code, last = _train(out)
    assert code == 1, last
    assert re.fullmatch(
        re.escape(f"Error: your disk quota is used up: writing {out / 'checkpoint.pt'} needed ")
        + r"[\d.]+ KiB"
        + re.escape(
            f" and there was not that much (the new folder {tmp_path / 'new'} was removed: the "
            "run had written no checkpoint); free some of your files or give an --out outside "
            "the quota (or ask for a larger one), and run it again"
        ),
        last,
    ), last
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("full_disk")
def test_a_users_folder_keeps_their_files_and_loses_the_runs(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    code, last = _train(out)
    assert code == 1, last
    assert f"(config.yaml written in {out} removed: the run had written no checkpoint)" in last
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "my notes"


def test_a_full_disk_after_a_checkpoint_keeps_the_run_and_says_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later checkpoint refused: the run so far stays, and --resume continues it."""
    real, calls = torch.save, []

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        if hasattr(f, "fileno"):
            calls.append(1)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "run"
    code, last = _train(out)
    assert code == 1, last
    assert last.endswith(
        "was free; free some space, then continue the run with the same command and --resume"
    ), last
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.yaml"]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 1


def test_a_new_parent_keeps_another_run_started_into_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--out sweep/a`` and ``--out sweep/b`` together, both making sweep: a failing before
    its first checkpoint removed sweep with everything in it, b's checkpoint too; it now
    removes sweep/a alone, and sweep only while empty."""
    other = tmp_path / "sweep" / "b" / "checkpoint.pt"

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        other.parent.mkdir(parents=True, exist_ok=True)  # b's run, started meanwhile
        other.write_bytes(b"b's checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "sweep" / "a"
    code, last = _train(out)
    assert code == 1, last
    assert f"(the new folder {out} was removed: the run had written no checkpoint)" in last
    assert [p.name for p in (tmp_path / "sweep").iterdir()] == ["b"]
    assert other.read_bytes() == b"b's checkpoint"
