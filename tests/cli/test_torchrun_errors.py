"""A user's error under ``torchrun``: every process meets it, the run says it once."""

from __future__ import annotations

from pathlib import Path

import pytest

from _gloo import torchrun_siamkit

ROOT = Path(__file__).resolve().parents[2]


def test_a_config_error_met_by_every_rank_is_said_once(tmp_path: Path) -> None:
    config = str(ROOT / "configs" / "digits-tiny.yaml")
    res = torchrun_siamkit(
        "train", config, "--out", str(tmp_path / "run"), "--set", "loss.kind=nope", timeout=300
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert out.count("Error: loss.kind = 'nope' is not valid") == 1, out
    assert not (tmp_path / "run").exists()


def _interrupted_run(
    tmp_path: Path,
    monkeypatch,
    rank: int | None,
    checkpoint: bool,
    stop: type[BaseException] = KeyboardInterrupt,
) -> tuple[int, str]:
    """`siamkit train` as process ``rank`` of a two-process torchrun launch (``None``: one
    process, no launcher), Ctrl-C'd (or ``stop`` raised, as the SIGTERM handler does) during
    the run (after its first checkpoint when ``checkpoint``): the exit code and what it
    said."""
    from click.testing import CliRunner

    import siamkit.experiment
    from siamkit.cli.main import cli

    out = tmp_path / "run"

    def interrupted(*args: object, **kwargs: object) -> None:
        if checkpoint:
            out.mkdir(parents=True, exist_ok=True)
            (out / "checkpoint.pt").write_bytes(b"")
        raise stop()

    monkeypatch.setattr(siamkit.experiment, "run_experiment", interrupted)
    if rank is None:
        monkeypatch.delenv("RANK", raising=False)
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
    config = str(ROOT / "configs" / "digits-tiny.yaml")
    res = CliRunner().invoke(cli, ["train", config, "--out", str(out)])
    return res.exit_code, res.output


#: How `siamkit train` ends when stopped during the run, by how it was stopped, which process
#: of a two-process torchrun launch it is (``None``: one process) and whether its first
#: checkpoint was written: the exit code and what it says (``{ckpt}``: its checkpoint).
STOPPED = {
    "ctrl-c-0-resume-hint": ("ctrl-c", 0, True, 130,
        "interrupted (Ctrl-C); {ckpt} keeps the run so far: run the same command with --resume "
        "to continue it\n"),
    "ctrl-c-0-before-checkpoint": ("ctrl-c", 0, False, 130,
        "interrupted (Ctrl-C) before the command finished; run it again\n"),
    "ctrl-c-1-resume-hint": ("ctrl-c", 1, True, 130, ""),
    "ctrl-c-1-before-checkpoint": ("ctrl-c", 1, False, 130, ""),
    "sigterm-0-resume-hint": ("sigterm", 0, True, 143,
        "interrupted (SIGTERM); {ckpt} keeps the run so far: run the same command with "
        "--resume to continue it\n"),
    "sigterm-0-before-checkpoint": ("sigterm", 0, False, 143, ""),
    "sigterm-1-resume-hint": ("sigterm", 1, True, 143, ""),
    "sigterm-1-before-checkpoint": ("sigterm", 1, False, 143, ""),
    "sigterm-one-process-before-checkpoint": ("sigterm", None, False, 143,
        "interrupted (SIGTERM) before the command finished; run it again\n"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(STOPPED))
def test_an_interrupted_run_is_said_once_as_its_stop_and_checkpoint_ask(
    tmp_path: Path, monkeypatch, case: str
) -> None:
    """Ctrl-C reaches every process of a torchrun launch: each said 'interrupted (Ctrl-C) ...',
    so two processes printed the sentence twice; the first alone says it now. torchrun stops
    its processes with SIGTERM when its launcher gets one: the run ended silently with status
    143, where Ctrl-C said that --resume continues it; it says so now, and a SIGTERM before the
    checkpoint says nothing under torchrun (torchrun also sends it when another process
    failed). One process stopped by SIGTERM (no checkpoint to resume) ended with 143 and no
    word, where Ctrl-C said 'run it again'."""
    from siamkit.cli.main import Terminated

    how, rank, checkpoint, status, says = STOPPED[case]
    stop = Terminated if how == "sigterm" else KeyboardInterrupt
    code, said = _interrupted_run(tmp_path, monkeypatch, rank, checkpoint, stop)
    assert code == status, said
    assert said == says.format(ckpt=tmp_path / "run" / "checkpoint.pt"), said


@pytest.mark.slow
def test_a_killed_run_says_resume_and_its_checkpoint_resumes(tmp_path: Path) -> None:
    """A plain `kill PID` (what a cluster scheduler sends) of a one-process `siamkit train`
    ended it with status 143 and no word, where Ctrl-C said that --resume continues it. The
    checkpoint it leaves is complete: --resume finishes the run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "siamkit", "train", str(ROOT / "configs" / "digits-tiny.yaml")]
    cmd += ["--out", str(out), "--no-progress", "--episodes", "5", "--device", "cpu"]
    cmd += ["--set", "train.epochs=40", "--set", "train.steps_per_epoch=1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out / "checkpoint.pt").exists() and run.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.02)
    run.send_signal(signal.SIGTERM)
    said, err = run.communicate(timeout=120)
    assert run.returncode == 143, said + err
    assert err.strip().endswith(
        f"interrupted (SIGTERM); {out / 'checkpoint.pt'} keeps the run so far: run the same "
        "command with --resume to continue it"
    ), err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.yaml"]
    res = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (out / "model").is_dir() and (out / "metrics.json").is_file()


def test_an_embedding_run_resumes_only_with_the_process_count_it_was_made_by(
    tmp_path: Path,
) -> None:
    """A two-process run resumed in one process (or the other way) continued without a word,
    though each process draws its own P×K batch: the epoch's steps changed and the learning-rate
    schedule restarted part-way (or ran past its end)."""
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    out = tmp_path / "run"
    args = ["train", str(ROOT / "configs" / "digits-tiny.yaml"), "--out", str(out)]
    args += ["--no-progress", "--episodes", "5", "--device", "cpu", "--set", "train.epochs=1"]
    res = torchrun_siamkit(*args, timeout=300)  # on the CPU: two processes on gloo
    assert res.returncode == 0, res.stdout + res.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    res = CliRunner().invoke(cli, [*args[:-1], "train.epochs=2", "--resume"])
    assert res.exit_code == 1
    assert res.output.strip() == (
        "Error: the checkpoint was made by 2 processes, not 1: resume with `siamkit train "
        "--nproc-per-node 2` or torchrun --nproc_per_node=2 (the process count sets an "
        "embedding run's batch, epoch length and learning-rate schedule)"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_overwrite_under_torchrun_leaves_the_set_aside_run_to_the_first_process(
    tmp_path: Path, monkeypatch
) -> None:
    """With --overwrite the first process sets the earlier run aside in OUT/.earlier-run-*; a
    second process that reached its checks a moment later took that folder for one left by a
    killed run and refused, and torchrun then killed the first while it waited for it: the
    earlier run stayed hidden in .earlier-run-*."""
    from click.testing import CliRunner

    import siamkit.experiment
    from siamkit.cli.main import cli

    out = tmp_path / "run"
    (out / "model").mkdir(parents=True)
    (out / "checkpoint.pt").write_bytes(b"earlier")
    (out / ".earlier-run-x1y2z3").mkdir()  # the first process's, of this launch
    ran: list[bool] = []
    monkeypatch.setattr(siamkit.experiment, "run_experiment", lambda *a, **k: ran.append(True))
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    args = ["train", str(ROOT / "configs" / "digits-tiny.yaml"), "--out", str(out), "--overwrite"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and res.output == "", res.output
    assert ran == [True]
    assert (out / "checkpoint.pt").read_bytes() == b"earlier"  # not this process's to move


#: ``WORLD_SIZE`` as a shell may hold it, and whether it is a launch's (an integer above 1, as
#: :func:`siamkit.distributed.is_main_process` reads it): a launch's process says nothing on
#: SIGTERM (torchrun's line is the one to read), any other says it was interrupted.
WORLD_SIZES = {"abc": False, "1.0": False, "-1": False, "01": False, "": False, " 1 ": False,
               " 2": True, "2": True, "02": True}  # fmt: skip


@pytest.mark.parametrize("world", list(WORLD_SIZES))
def test_sigterm_reads_world_size_as_the_one_main_process_rule_does(
    monkeypatch, world: str
) -> None:
    """The SIGTERM line of cli/main read WORLD_SIZE as a string, silent unless it was '', '0'
    or '1' once stripped: a one-process command where the shell held WORLD_SIZE=abc (or -1,
    01, 1.0) ended with 143 and no word, where is_main_process reads it as no launch (its
    ValueError, or an integer not above 1). It reads it as that rule does now."""
    from click.testing import CliRunner

    from siamkit.cli.main import LazyGroup, Terminated
    from siamkit.distributed import is_main_process

    group = LazyGroup("siamkit")

    @group.command("stop")
    def stop() -> None:
        raise Terminated()

    monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("RANK", "1")  # is_main_process: False for a launch's process 1 alone
    launched = WORLD_SIZES[world]
    assert is_main_process() is not launched
    res = CliRunner().invoke(group, ["stop"])
    assert res.exit_code == 143, res.output
    says = "" if launched else "interrupted (SIGTERM) before the command finished; run it again\n"
    assert res.output == says
