"""``siamkit train --overwrite`` set the earlier run's model folder aside whole and deleted it
once the new run finished: a file of the user's in OUT/model went with it, unsaid, and the
earlier model's export too. The user's files now go into the new model folder, and the stale
export is removed and named, as by every save over a model folder."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from siamkit.cli.main import cli

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
SHORT = ["--no-progress", "--episodes", "2", "--set", "train.steps_per_epoch=1"]


def test_overwrite_keeps_the_users_files_in_the_model_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(TINY), "--out", str(out), *SHORT])
    assert res.exit_code == 0, res.output
    model = out / "model"
    (model / "notes.txt").write_text("mine")
    fingerprint = json.loads((model / "siamkit.json").read_text())["fingerprint"]
    (model / "model.onnx").write_bytes(b"graph of the earlier model")
    doc = {"format": "siamkit-onnx-exports", "format_version": 1, "fingerprint": fingerprint,
           "exports": {"model.onnx": {"precision": "fp32"}}}  # fmt: skip
    (model / "onnx.json").write_text(json.dumps(doc))
    res = CliRunner().invoke(
        cli,
        ["train", str(TINY), "--out", str(out), "--overwrite", *SHORT,
         "--set", "train.epochs=1"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads((model / "siamkit.json").read_text())["fingerprint"] != fingerprint
    assert (model / "notes.txt").read_text() == "mine"
    assert not (model / "model.onnx").exists() and not (model / "onnx.json").exists()
    assert f"Removed {model}/model.onnx and {model}/onnx.json: the replaced model's" in res.stderr
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
