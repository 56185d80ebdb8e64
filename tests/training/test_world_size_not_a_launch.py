"""A ``WORLD_SIZE`` that is no integer (``abc``, ``1.0``, empty) is no torchrun launch's, for
the training code as for the launcher (:func:`siamkit.launch_env.launched`), ``siamkit tune`` and
:func:`siamkit.distributed.is_main_process`: the launcher took ``WORLD_SIZE=abc siamkit train``
for a one-process command, and the run then stopped on the value with "invalid literal for
int() with base 10: 'abc'" (s59_FA finding 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.training import RunConfig
from siamkit.training.checkpoint import save_checkpoint
from siamkit.training.config_io import config_to_dict
from siamkit.training.ddp import refuse_torchrun, setup_distributed
from siamkit.training.preflight import check_resumable

ROOT = Path(__file__).resolve().parents[2]

NOT_A_LAUNCH = ["abc", "1.0", ""]


@pytest.mark.parametrize("world", NOT_A_LAUNCH)
def test_a_world_size_that_is_no_integer_trains_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: str
) -> None:
    monkeypatch.setenv("WORLD_SIZE", world)
    ctx = setup_distributed("cpu")  # embedding, ssl and siamfc runs
    assert (ctx.rank, ctx.world, ctx.is_main) == (0, 1, True)
    refuse_torchrun("text")  # text, signatures, half_twin: not refused
    path = tmp_path / "checkpoint.pt"  # --resume of a one-process run
    save_checkpoint({"epoch": 1, "world": 1, "config": config_to_dict(RunConfig())}, path)
    assert check_resumable(RunConfig(), path) == RunConfig()


def test_a_launch_s_world_size_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from siamkit.launch_env import env_world

    monkeypatch.setenv("WORLD_SIZE", "abc")
    assert env_world() == 1
    monkeypatch.setenv("WORLD_SIZE", " 2")  # an integer, as int() reads it
    assert env_world() == 2
    with pytest.raises(ValueError, match=r"^task text trains in one process: run `siamkit train`"):
        refuse_torchrun("text")


def test_train_under_world_size_abc_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "abc")
    out = tmp_path / "run"
    args = ["train", str(ROOT / "configs" / "digits-tiny.yaml"), "--set", "train.epochs=1",
            "--out", str(out), "--no-progress"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert (out / "model" / "model.safetensors").is_file()
