"""run_experiment as a library: a typed result, metrics.json = to_dict(), and the model saved
before the evaluation (a failing evaluation leaves it behind)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import siamkit
import siamkit.experiment.run as run_mod
from siamkit.evaluation import EvaluationReport
from siamkit.experiment import RunResult, run_experiment
from siamkit.training import apply_overrides, load_config

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
QUICK = ["train.epochs=1", "train.steps_per_epoch=2", "eval.episodes=20"]


def test_a_run_returns_a_typed_result_matching_metrics_json(tmp_path: Path) -> None:
    cfg = apply_overrides(load_config(TINY), QUICK)
    result = run_experiment(cfg, tmp_path, progress=False, log=lambda _: None)
    assert isinstance(result, RunResult) and isinstance(result.evaluation, EvaluationReport)
    assert result.calibration is not None and 0.0 <= result.calibration.test.far <= 1.0
    assert result.test_classes == (6, 7, 8, 9) and len(result.history) == 1
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(result.to_dict()))
    model = siamkit.load_model(result.model_dir)
    assert model.threshold == pytest.approx(result.calibration.threshold)


def test_the_model_is_saved_before_the_evaluation(tmp_path: Path, monkeypatch) -> None:
    cfg = apply_overrides(load_config(TINY), QUICK)

    def broken(*args, **kwargs):
        raise RuntimeError("evaluation killed")

    monkeypatch.setattr(run_mod, "evaluate_model", broken)
    with pytest.raises(RuntimeError, match="evaluation killed"):
        run_experiment(cfg, tmp_path, progress=False, log=lambda _: None)
    model = siamkit.load_model(tmp_path / "model")
    assert model.threshold is not None  # calibrated on validation pairs, before the test classes
    assert not (tmp_path / "metrics.json").exists()
    assert json.loads((tmp_path / "history.json").read_text())[0]["epoch"] == 1
