"""Ctrl-C or SIGTERM in a new ``siamkit train`` run before its first checkpoint kept its
config.yaml in the folder it made, though nothing can resume from it (--resume needs the
checkpoint) and an error at the same point removed it: an interrupt now leaves things as an
error does. A run with a checkpoint, and any resumed run, keeps every file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import Terminated, cli
from siamkit.training.trainer import Trainer

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
STOPS = {"ctrl-c": (KeyboardInterrupt, 130), "sigterm": (Terminated, 143)}


def _args(out: Path) -> list[str]:
    return ["train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "2",
            "--set", "train.steps_per_epoch=1", "--set", "train.epochs=2"]  # fmt: skip


def _stop_at(monkeypatch: pytest.MonkeyPatch, epoch: int, stop: type[BaseException]) -> None:
    """Stop the run as ``stop`` when it starts its ``epoch`` (1-based; 1: before any
    checkpoint, 2: after the first)."""
    real = Trainer._epoch

    def stopped(self: Trainer, at: int) -> float:
        if at == epoch - 1:
            raise stop()
        return real(self, at)

    monkeypatch.setattr(Trainer, "_epoch", stopped)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("how", STOPS)
def test_an_interrupt_before_the_first_checkpoint_removes_the_folders_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    stop, code = STOPS[how]
    _stop_at(monkeypatch, 1, stop)
    out = tmp_path / "sweep" / "run"
    res = CliRunner().invoke(cli, _args(out))
    assert res.exit_code == code, res.output
    assert not (tmp_path / "sweep").exists()  # OUT and the parent it made, as an error does
    assert res.stderr.splitlines()[-1].endswith("before the command finished; run it again")


def test_an_interrupt_in_a_folder_that_was_there_removes_only_the_run_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    _stop_at(monkeypatch, 1, KeyboardInterrupt)
    res = CliRunner().invoke(cli, _args(out))
    assert res.exit_code == 130, res.output
    assert _files(out) == {"notes.txt": b"mine"}


def test_an_interrupt_after_a_checkpoint_or_of_a_resumed_run_removes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    _stop_at(monkeypatch, 2, KeyboardInterrupt)
    res = CliRunner().invoke(cli, _args(out))
    assert res.exit_code == 130, res.output
    assert {"checkpoint.pt", "config.yaml"} <= set(_files(out))
    assert "run the same command with --resume" in res.stderr
    before = _files(out)
    # the resume stopped before it trains its next epoch: every file stays as it was
    resumed = CliRunner().invoke(cli, [*_args(out), "--resume"])
    assert resumed.exit_code == 130, resumed.output
    assert _files(out) == before
