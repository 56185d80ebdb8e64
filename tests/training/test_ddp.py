"""Data-parallel training under torchrun (two gloo processes on the CPU); only rank 0 writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_torchrun_two_processes_train_and_rank0_writes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    # with a weight average (train.ema_decay), as the demo recipe has
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
        "-m", "siamkit", "train", str(ROOT / "configs" / "digits-tiny.yaml"), "--out", str(tmp_path),
        "--no-progress", "--episodes", "20", "--set", "train.epochs=2", "--set", "train.ema_decay=0.9",
    ]  # fmt: skip
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("model:") == 1  # one summary: rank 1 prints and writes nothing
    assert "2 processes: each draws its own batch of 6 classes x 8 images" in res.stdout
    history = json.loads((tmp_path / "history.json").read_text())
    # 6 global batches per epoch over 2 ranks -> 3 steps per rank; both epochs ran
    assert [h["epoch"] for h in history] == [1, 2]
    assert (tmp_path / "model" / "model.safetensors").is_file()


def test_the_steps_capped_note_counts_steps_as_the_processes_line_does(tiny_data) -> None:
    """Under torchrun the note said 'an epoch trains 20 steps' and the next line 'an epoch is
    10 steps': the note counted every process's batch as a step, the processes line (and the
    progress bar) a step of all the processes' batches."""
    from siamkit.training.batch_source import PKBatches
    from siamkit.training.from_config import _steps_capped_note

    x, y = tiny_data.train_x, tiny_data.train_y
    two = PKBatches(x, y, p=6, k=8, steps_per_epoch=40, rank=0, world=2)
    assert two.steps * 2 < 40  # one pass makes fewer batches than asked
    assert _steps_capped_note(40, two, len(y), 2) == (
        f"note: train.steps_per_epoch = 40 is more than one pass over the {len(y)} training images "
        f"makes ({2 * two.steps} batches of 6 classes x up to 8 images), so an epoch trains "
        f"{2 * two.steps} batches, {two.steps} steps of the 2 processes' batches; raise "
        "train.epochs to train longer"
    )
    one = PKBatches(x, y, p=6, k=8, steps_per_epoch=40)
    assert _steps_capped_note(40, one, len(y), 1).endswith(  # type: ignore[union-attr]
        f"so an epoch trains {one.steps} steps; raise train.epochs to train longer"
    )


def test_the_steps_shared_note_says_the_batches_an_epoch_trains(tiny_data) -> None:
    """Two processes share train.steps_per_epoch out in whole steps of one batch each: 5 was
    rounded down to 4 batches (and 1 up to 2) without a word."""
    from siamkit.training.batch_source import PKBatches
    from siamkit.training.from_config import _steps_shared_note

    x, y = tiny_data.train_x, tiny_data.train_y
    five = PKBatches(x, y, p=2, k=2, steps_per_epoch=5, rank=0, world=2)
    assert _steps_shared_note(5, five, 2) == (
        "note: train.steps_per_epoch = 5 is rounded down to 4 batches (2 steps of the 2 "
        "processes' batches, a step training one batch of each); set a multiple of 2 to train "
        "it exactly"
    )
    one = PKBatches(x, y, p=2, k=2, steps_per_epoch=1, rank=0, world=2)
    assert _steps_shared_note(1, one, 2).startswith(  # type: ignore[union-attr]
        "note: train.steps_per_epoch = 1 is rounded up to 2 batches (1 step of the 2"
    )
    assert _steps_shared_note(4, PKBatches(x, y, p=2, k=2, steps_per_epoch=4, world=2), 2) is None
    assert _steps_shared_note(5, PKBatches(x, y, p=2, k=2, steps_per_epoch=5), 1) is None


def test_an_odd_steps_per_epoch_under_torchrun_is_said_in_the_start_lines(tmp_path: Path) -> None:
    """`train.steps_per_epoch: 5` on two processes trained 4 batches an epoch without a word."""
    from _gloo import torchrun_siamkit

    args = ["train", str(ROOT / "configs" / "digits-tiny.yaml"), "--out", str(tmp_path / "run")]
    args += ["--no-progress", "--episodes", "5", "--device", "cpu", "--set", "train.epochs=1"]
    res = torchrun_siamkit(*args, "--set", "train.steps_per_epoch=5", timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    said = res.stdout + res.stderr
    assert said.count("note: train.steps_per_epoch = 5 is rounded down to 4 batches (2 steps") == 1
    assert "an epoch is 2 steps" in res.stdout
