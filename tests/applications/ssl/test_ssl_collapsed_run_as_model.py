"""A collapsed run's folder given where a model goes (evaluate, export, calibrate, --init-from)
said "has no siamkit.json, so it is not a siamkit model folder: give the folder `siamkit train
--out OUT` writes as OUT/model", which such a run never wrote. It now says what the run recorded:
the collapse its checkpoint holds (as a --resume of it reads it; with or without report.html, which
a run without matplotlib does not write), a finished run's model moved away (metrics.json, which
every finished run writes; the sentence keyed on report.html told it "its run stopped before saving
one; its report.html says why"), or, for an interrupted run, how to finish it."""

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


_SAID: dict[Path, str] = {}  # a collapsed run's folder -> its CollapseError's sentence


@pytest.fixture(scope="module")
def collapsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ssl") / "o"
    # collapse_std just under the figure's bound (~1): "collapsed" after epoch 1
    with pytest.raises(CollapseError) as err:
        run(DOC, out, TaskOptions(progress=False, log=lambda s: None))
    assert (out / "checkpoint.pt").is_file() and not (out / "model").exists()
    assert not (out / "metrics.json").exists()
    _SAID[out] = str(err.value)
    return out


def _refusal(folder: Path) -> str:
    with pytest.raises(ModelFileError) as err:
        read_model_config(folder)
    return str(err.value)


def test_a_collapsed_runs_folder_says_it_saved_no_model(collapsed: Path) -> None:
    # the run's own sentence when it stopped ("epoch 1: the embedding collapsed ...; the curves:")
    assert _refusal(collapsed) == (
        f"{collapsed} is a training run's folder without a saved model (no {collapsed / 'model'}): "
        f"its run stopped at {_SAID[collapsed]}"
    )
    assert _SAID[collapsed].startswith("epoch 1: the embedding collapsed")
    assert _SAID[collapsed].endswith(f"; the curves: {collapsed / 'report.html'}")


def test_a_collapsed_run_without_its_report_is_not_sent_to_resume(
    collapsed: Path, tmp_path: Path
) -> None:
    """Without matplotlib a collapsed run writes no report.html: it was told --resume finishes it,
    which refuses it (the collapse)."""
    folder = tmp_path / "run"
    shutil.copytree(collapsed, folder, ignore=shutil.ignore_patterns("report.html"))
    curves = f"; the curves: {collapsed / 'report.html'}"
    assert _refusal(folder) == (
        f"{folder} is a training run's folder without a saved model (no {folder / 'model'}): its "
        f"run stopped at {_SAID[collapsed].removesuffix(curves)}"
    )
    res = CliRunner().invoke(cli, ["evaluate", str(folder)])
    assert "--resume" not in res.output and "the embedding collapsed" in res.output


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Finished runs, self-supervised (DOC without the collapse check) and supervised (siamkit
    train configs/digits-tiny.yaml), whose model/ is then moved away."""
    root = tmp_path_factory.mktemp("finished")
    doc = {**DOC, "ssl": {**DOC["ssl"], "collapse_std": 0.0}}  # 0: the check is off
    run(doc, root / "ssl", TaskOptions(progress=False, log=lambda s: None))
    tiny = Path(__file__).resolve().parents[3] / "configs" / "digits-tiny.yaml"
    args = ["train", str(tiny), "--out", str(root / "sup"), "--no-progress", "--device", "cpu"]
    res = CliRunner().invoke(cli, [*args, "--set", "train.epochs=1", "--set", "eval.episodes=10"])
    assert res.exit_code == 0, res.output
    for name in ("ssl", "sup"):
        for file in ("checkpoint.pt", "metrics.json", "report.html"):
            assert (root / name / file).is_file(), (name, file)
        (root / name / "model").rename(root / f"{name}-model-moved")
    return {"ssl": root / "ssl", "sup": root / "sup"}


@pytest.mark.parametrize("kind", ["ssl", "sup"])
def test_a_finished_runs_folder_whose_model_was_moved_says_so(
    finished: dict[str, Path], kind: str
) -> None:
    folder = finished[kind]
    model = folder / "model"
    assert _refusal(folder) == (
        f"{folder} is a training run's folder whose model is missing: its run finished and saved "
        f"{model}, which has since been moved or deleted (no {model / 'siamkit.json'}): put it "
        "back, or train again"
    )
    res = CliRunner().invoke(cli, ["evaluate", str(folder)])
    assert res.exit_code != 0
    assert "stopped before saving" not in res.output and "collapse" not in res.output


@pytest.mark.parametrize("kind", ["ssl", "sup"])
def test_an_interrupted_runs_folder_says_how_to_finish_it(
    finished: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    """A run stopped after a checkpoint and before its model: no metrics.json, no collapse."""
    folder = tmp_path / "run"
    folder.mkdir()
    for file in ("checkpoint.pt", "config.yaml"):
        shutil.copy(finished[kind] / file, folder / file)
    assert _refusal(folder) == (
        f"{folder} is a training run's folder without a saved model (no {folder / 'model'}): its "
        f"run stopped before saving one; if it was interrupted, siamkit train CONFIG --out "
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
