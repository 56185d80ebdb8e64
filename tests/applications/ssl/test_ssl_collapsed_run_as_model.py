"""A collapsed run's folder given where a model goes (evaluate, export, calibrate, --init-from)
said "has no siamkit.json, so it is not a siamkit model folder: give the folder `siamkit train
--out OUT` writes as OUT/model", which such a run never wrote. It now says the run saved no model
and where to read why (its report.html), or, for an interrupted run, how to finish it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from siamkit.applications.ssl.task import run
from siamkit.applications.ssl.trainer import CollapseError
from siamkit.cli.main import cli
from siamkit.export.bundle import ModelFileError, read_model_config
from siamkit.training.tasks import TaskOptions

DOC = {
    "method": "simsiam",
    "data": {"dataset": "digits", "limit": 64},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [4]}, "embedding_dim": 8},
    "ssl": {"proj_dim": 8, "proj_hidden": 16, "pred_hidden": 8, "collapse_std": 0.99},
    "train": {"epochs": 1, "batch_size": 16, "steps_per_epoch": 1, "knn_k": 5, "device": "cpu"},
}


@pytest.fixture(scope="module")
def collapsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ssl") / "o"
    # collapse_std just under the figure's bound (~1): "collapsed" after epoch 1
    with pytest.raises(CollapseError):
        run(DOC, out, TaskOptions(progress=False, log=lambda s: None))
    assert (out / "checkpoint.pt").is_file() and not (out / "model").exists()
    return out


def test_a_collapsed_runs_folder_says_it_saved_no_model(collapsed: Path) -> None:
    with pytest.raises(ModelFileError) as err:
        read_model_config(collapsed)
    assert str(err.value) == (
        f"{collapsed} is a training run's folder without a saved model (no {collapsed / 'model'}): "
        f"its run stopped before saving one; its {collapsed / 'report.html'} says why (a "
        "self-supervised run that collapsed saves none)"
    )


def test_an_interrupted_runs_folder_says_how_to_finish_it(collapsed: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(collapsed / "checkpoint.pt", folder / "checkpoint.pt")  # no report.html yet
    with pytest.raises(ModelFileError) as err:
        read_model_config(folder)
    assert str(err.value).endswith(
        f"its run stopped before saving one; if it was interrupted, siamkit train CONFIG --out "
        f"{folder} --resume finishes it and saves one"
    )


@pytest.mark.parametrize("command", ["evaluate", "export", "calibrate"])
def test_the_commands_say_it_in_one_sentence(collapsed: Path, command: str) -> None:
    res = CliRunner().invoke(cli, [command, str(collapsed)])
    assert res.exit_code != 0, res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: {collapsed} is a training run's folder without a saved model")
    assert "has no siamkit.json" not in res.output


def test_init_from_says_it_before_anything_is_written(collapsed: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"task": "ssl", **DOC}))
    out = tmp_path / "o"
    args = ["train", str(cfg), "--out", str(out), "--no-progress", "--init-from", str(collapsed)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0
    assert f"{collapsed} is a training run's folder without a saved model" in res.output
    assert not out.exists()
