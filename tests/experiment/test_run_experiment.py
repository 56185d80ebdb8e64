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


def test_the_saved_model_states_the_kind_and_params_of_each_part(tmp_path: Path) -> None:
    """A run written in the kind + params form saves its parts' specs in the model's metadata,
    and the saved config (flat form) loads back to the same run config."""
    import yaml

    doc = yaml.safe_load(TINY.read_text())
    doc["loss"] = {"kind": "triplet", "margin": 0.3,
                   "miner": {"kind": "semihard", "params": {"margin": 0.5}}}  # fmt: skip
    doc["optim"] = {"optimizer": {"kind": "adamw", "params": {"lr": 0.002, "weight_decay": 0.01}},
                    "schedule": {"kind": "cosine", "params": {"warmup_fraction": 0.1}}}  # fmt: skip
    path = tmp_path / "nested.yaml"
    path.write_text(yaml.safe_dump(doc))
    cfg = apply_overrides(load_config(path), QUICK)
    result = run_experiment(cfg, tmp_path / "run", progress=False, log=lambda _: None)
    assert result is not None
    saved = json.loads((result.model_dir / "siamkit.json").read_text())
    spec = saved["metadata"]["spec"]
    assert spec["optimizer"] == {
        "kind": "adamw", "params": {"lr": 0.002, "weight_decay": 0.01, "momentum": 0.9}
    }  # fmt: skip
    assert spec["miner"] == {"kind": "semihard", "params": {"margin": 0.5}}
    assert spec["loss"]["kind"] == "triplet" and spec["loss"]["params"]["margin"] == 0.3
    assert spec["encoder"] == {"kind": "convnet", "params": {"widths": [8, 16]}}
    assert spec["schedule"]["kind"] == "cosine" and spec["data"]["kind"] == "digits"
    assert saved["model"]["encoder"]["name"] == "convnet"  # the model's own encoder spec
    assert load_config(tmp_path / "run" / "config.yaml") == cfg
