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


def test_an_ssl_run_started_from_an_ssl_model_records_its_method(tmp_path: Path) -> None:
    """``task: ssl`` writes ``started_from`` itself (applications/ssl/task.py), not through the
    supervised run: a SimCLR run --init-from another SimCLR run names that run's method and data."""
    import numpy as np
    from PIL import Image

    photos = tmp_path / "photos"
    for c in "ab":
        (photos / c).mkdir(parents=True)
        for i in range(3):
            pixels = np.random.default_rng(100 * ord(c) + i).integers(0, 256, (12, 12, 3))
            Image.fromarray(pixels.astype(np.uint8)).save(photos / c / f"{i}.png")
    simclr = Path(__file__).resolve().parents[2] / "configs" / "simclr.yaml"
    common = [
        "--no-progress", "--set", "data.dataset=image-folder", "--set", f"data.root={photos}",
        "--set", "data.image_size=8", "--set", "train.batch_size=4", "--set", "train.epochs=1",
    ]  # fmt: skip
    first, second = tmp_path / "s1", tmp_path / "s2"
    res = CliRunner().invoke(cli, ["train", str(simclr), "--out", str(first), *common])
    assert res.exit_code == 0, res.output
    start = str(first / "model")
    res = CliRunner().invoke(
        cli, ["train", str(simclr), "--out", str(second), "--init-from", start, *common]
    )
    assert res.exit_code == 0, res.output
    shutil.rmtree(first)
    assert _meta(second / "model")["started_from"] == {
        "path": start, "method": "simclr", "dataset": "image-folder"
    }  # fmt: skip
