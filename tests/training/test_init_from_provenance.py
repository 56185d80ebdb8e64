"""A model started from ``model.init_from`` records that model's method and its own chain
(``started_from`` in siamkit.json), which outlive the starting model's folder, and says so in the
report's header; a bundle saved before that was recorded still loads and still names its path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import siamkit.experiment.run as run_mod
from siamkit import load_model, save_model
from siamkit.cli._model_run import _run_info
from siamkit.cli.main import cli
from siamkit.evaluation.report_sections import run_line
from siamkit.export.bundle import read_model_config
from siamkit.training import RunConfig, RunData, build_model

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def _fine_tune(tmp_path: Path, start: Path, name: str) -> Path:
    """One epoch of the tiny digits run started --init-from ``start``; its model folder."""
    out = tmp_path / name
    res = CliRunner().invoke(cli, [
        "train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "5",
        "--set", "train.epochs=1", "--init-from", str(start),
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    return out / "model"


def _meta(model: Path) -> dict:
    return read_model_config(model)["metadata"]


def test_a_fine_tuned_chain_records_where_it_started_after_the_models_are_gone(
    tmp_path: Path, tiny_cfg: RunConfig, tiny_data: RunData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_mod, "try_write_report", lambda *args, **kwargs: None)
    net = build_model(tiny_cfg.model, tiny_data.input_shape, mean=(0.5,), std=(0.2,))
    # what a task: ssl run writes of itself (applications/ssl/task.py, _metadata)
    ssl = save_model(net, tmp_path / "ssl" / "model", metadata={
        "self_supervised": {"method": "simclr", "epochs": 1},
        "run": {"dataset": "digits", "labels_used": False},
    })  # fmt: skip
    ft = _fine_tune(tmp_path, ssl, "ft")
    shutil.rmtree(tmp_path / "ssl")  # runs/ssl is gone: runs/ft/model still says SimCLR
    simclr = {"path": str(ssl), "method": "simclr", "dataset": "digits"}
    assert _meta(ft)["started_from"] == simclr
    assert "self_supervised" not in _meta(ft)  # it learned from labels (evaluate reads that key)
    ft2 = _fine_tune(tmp_path, ft, "ft2")
    shutil.rmtree(tmp_path / "ft")
    chain = {"path": str(ft), "method": "supervised", "loss": "triplet", "dataset": "digits",
             "started_from": simclr}  # fmt: skip
    assert _meta(ft2)["started_from"] == chain
    header = run_line({**_run_info(_meta(ft2), "cpu"), "hardware": "h"})
    assert (
        f"started from {ft} (supervised, triplet loss on digits), itself started from {ssl} "
        "(self-supervised simclr on digits)"
    ) in header


def test_a_bundle_saved_before_the_record_loads_and_gives_its_path(
    tmp_path: Path, tiny_cfg: RunConfig, tiny_data: RunData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_mod, "try_write_report", lambda *args, **kwargs: None)
    net = build_model(tiny_cfg.model, tiny_data.input_shape, mean=(0.5,), std=(0.2,))
    first = save_model(net, tmp_path / "first" / "model")  # no metadata at all
    ft = _fine_tune(tmp_path, first, "ft")
    assert _meta(ft)["started_from"] == {"path": str(first)}
    doc_path = ft / "siamkit.json"  # as an older siamkit wrote it: model.init_from alone
    doc = json.loads(doc_path.read_text())
    del doc["metadata"]["started_from"]
    doc_path.write_text(json.dumps(doc))
    load_model(ft)
    assert "started from" not in run_line({**_run_info(_meta(ft), "cpu"), "hardware": "h"})
    ft2 = _fine_tune(tmp_path, ft, "ft2")
    assert _meta(ft2)["started_from"]["started_from"] == {"path": str(first)}
