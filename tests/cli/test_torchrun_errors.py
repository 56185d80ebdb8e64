"""A user's error under ``torchrun``: every process meets it, the run says it once."""

from __future__ import annotations

import re
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
    rank: int,
    checkpoint: bool,
    stop: type[BaseException] = KeyboardInterrupt,
) -> tuple[int, str]:
    """`siamkit train` as process ``rank`` of a two-process torchrun launch, Ctrl-C'd (or
    ``stop`` raised, as the SIGTERM handler does) during the run (after its first checkpoint
    when ``checkpoint``): the exit code and what it said."""
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
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", "2")
    config = str(ROOT / "configs" / "digits-tiny.yaml")
    res = CliRunner().invoke(cli, ["train", config, "--out", str(out)])
    return res.exit_code, res.output


@pytest.mark.parametrize("checkpoint", [True, False], ids=["resume-hint", "before-checkpoint"])
def test_ctrl_c_under_torchrun_is_said_by_the_first_process_only(
    tmp_path: Path, monkeypatch, checkpoint: bool
) -> None:
    """Ctrl-C reaches every process of a torchrun launch: each said 'interrupted (Ctrl-C) ...',
    so two processes printed the sentence twice."""
    code, said = _interrupted_run(tmp_path / "r0", monkeypatch, 0, checkpoint)
    assert code == 130 and said.count("interrupted (Ctrl-C)") == 1, said
    assert ("--resume" in said) == checkpoint, said
    code, said = _interrupted_run(tmp_path / "r1", monkeypatch, 1, checkpoint)
    assert code == 130 and said == "", said


@pytest.mark.parametrize("checkpoint", [True, False], ids=["resume-hint", "before-checkpoint"])
def test_sigterm_under_torchrun_says_what_ctrl_c_says(
    tmp_path: Path, monkeypatch, checkpoint: bool
) -> None:
    """torchrun stops its processes with SIGTERM when its launcher gets one: the run ended
    silently with status 143, where Ctrl-C said that --resume continues it. A SIGTERM before the
    checkpoint says nothing under torchrun (torchrun also sends it when another process failed)."""
    from siamkit.cli.main import Terminated

    code, said = _interrupted_run(tmp_path / "r0", monkeypatch, 0, checkpoint, Terminated)
    assert code == 143, said
    if checkpoint:
        assert said == (
            f"interrupted (SIGTERM); {tmp_path / 'r0' / 'run' / 'checkpoint.pt'} keeps the run "
            "so far: run the same command with --resume to continue it\n"
        ), said
    else:
        assert said == "", said
    code, said = _interrupted_run(tmp_path / "r1", monkeypatch, 1, checkpoint, Terminated)
    assert code == 143 and said == "", said


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
        "Error: the checkpoint was made by 2 process(es), not 1: resume with `siamkit train "
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


def test_sigterm_in_one_process_says_run_it_again(tmp_path: Path, monkeypatch) -> None:
    """A command stopped by SIGTERM (no checkpoint to resume) ended with status 143 and no
    word, where Ctrl-C said 'run it again'."""
    from click.testing import CliRunner

    import siamkit.experiment
    from siamkit.cli.main import Terminated, cli

    def stopped(*args: object, **kwargs: object) -> None:
        raise Terminated

    monkeypatch.setattr(siamkit.experiment, "run_experiment", stopped)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    args = ["train", str(ROOT / "configs" / "digits-tiny.yaml"), "--out", str(tmp_path / "run")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 143
    assert res.output == "interrupted (SIGTERM) before the command finished; run it again\n"


#: A plug-in that makes process 1 of a two-process launch stop with an error of its own once
#: both joined the group, while process 0 waits in a collective (the hold-back shortened).
RANK_1_FAILS = """
import siamkit.cli.main as entry
import siamkit.experiment

entry.OTHER_RANK_ERROR_DELAY_S = 0.5


def run(*args, **kwargs):
    import torch
    import torch.distributed as dist

    from siamkit.training.ddp import setup_distributed

    setup_distributed("cpu")
    if dist.get_rank() == 1:
        raise ValueError("the folder /data/shard-1 holds no images")
    dist.all_reduce(torch.ones(3))


siamkit.experiment.run_experiment = run
"""

#: What torchrun itself prints under siamkit's sentences, each as the README quotes it.
TORCHRUN_SAYS = (
    "closing signal SIGTERM",
    "failed (exitcode: 1) local_rank: 1 (pid:",
    "torch.distributed.elastic.multiprocessing.errors.ChildFailedError",
    "siamkit FAILED",
    "Root Cause (first observed failure)",
    "traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html",
)


def _as_printed(says: str) -> str:
    """A pattern of what torchrun prints for the README's quote ``says``. Its line names the
    local rank it saw stop first, by whole-second timestamps: where process 0 ends in the same
    0.1 s poll as process 1, the tie goes to local rank 0 (reviewer s55_FA finding 3), so either
    rank is what the README's 'local_rank: 1' quotes; and then its SIGTERM line is not printed,
    which the test allows only so."""
    return re.escape(says).replace(re.escape("local_rank: 1 "), re.escape("local_rank: ") + "[01] ")


def test_what_torchrun_prints_under_a_stopped_process_is_what_the_readme_says(
    tmp_path: Path,
) -> None:
    """torchrun's own report (its SIGTERM warning, ChildFailedError's traceback, the summary)
    came under siamkit's one sentence, and nothing said what it was, or that its 'To enable
    traceback see ...' needs nothing enabled. siamkit does not start torchrun, so it cannot
    quiet it: the README says what each part is, and this checks that a real launch prints it,
    after siamkit's sentences."""
    plugin = tmp_path / "rank_1_fails.py"
    plugin.write_text(RANK_1_FAILS)
    config = str(ROOT / "configs" / "digits-tiny.yaml")
    res = torchrun_siamkit(
        "--plugin", str(plugin), "train", config, "--out", str(tmp_path / "run"), timeout=300
    )
    out = res.stdout + res.stderr
    said = "Error: process 1 of 2 stopped: the folder /data/shard-1 holds no images\n"
    assert res.returncode == 1 and out.count(said) == 1, out
    readme = " ".join((ROOT / "README.md").read_text().split())  # its lines wrapped
    for says in TORCHRUN_SAYS:
        assert says in readme, says
        printed = re.search(_as_printed(says), out)
        if printed is None and says == "closing signal SIGTERM":
            # no process was left to stop: process 0 ended in the poll that saw process 1's
            # end, so each exit code in torchrun's lines and summary is 1, none a signal's
            assert set(re.findall(r"exitcode\s*: (-?\d+)", out)) == {"1"}, out
            continue
        assert printed is not None and out.index(said) < printed.start(), (says, out)
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    helped = " ".join(CliRunner().invoke(cli, ["train", "--help"]).output.split())
    assert "ChildFailedError traceback and a 'siamkit FAILED' summary" in helped
