"""Checkpoints: temp files of killed writes are removed; a malicious file gets no unsafe advice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from siamkit.training.checkpoint import load_checkpoint, save_checkpoint


def _dead_pid() -> int:
    """The id of a process that has exited (the writer killed mid-write)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temp_files_of_killed_writes_are_removed_by_the_next_save_and_load(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "last.pt"
    killed = tmp_path / f".last.pt.tmp-{_dead_pid()}"
    killed.write_bytes(b"half a checkpoint")
    running = tmp_path / f".last.pt.tmp-{os.getppid()}"  # a live writer's file is left alone
    running.write_bytes(b"being written")
    save_checkpoint({"epoch": 1, "w": torch.ones(2)}, dest)
    assert not killed.exists() and running.exists()

    killed.write_bytes(b"killed again")
    assert load_checkpoint(dest)["epoch"] == 1
    assert not killed.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [running.name, "last.pt"]


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo never",))


def test_a_malicious_checkpoint_is_refused_without_advice_to_disable_weights_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"epoch": 1, "x": _Payload()}, path)
    with pytest.raises(ValueError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "weights_only" not in message and "arbitrary code" not in message
    assert "other than tensors" in message and "system" in message and "\n" not in message


def test_a_truncated_checkpoint_is_one_sentence(tmp_path: Path) -> None:
    path = save_checkpoint({"epoch": 3, "w": torch.ones(100)}, tmp_path / "c.pt")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ValueError, match="not a readable siamkit checkpoint") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and "weights_only" not in str(info.value)
