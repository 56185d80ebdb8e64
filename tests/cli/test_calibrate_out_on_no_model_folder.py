"""`siamkit calibrate FOLDER --out DIR` on a folder that is no model (an empty one, or a Hugging
Face folder copied without its tokenizer and weights) said "--out is for a pretrained text
model; a siamkit model's threshold is saved in its own folder": the folder is neither, and the
user was told to drop --out. It now says what the folder lacks, and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli


@pytest.mark.parametrize("config", [False, True], ids=["empty", "config.json alone"])
def test_calibrate_out_names_what_a_folder_that_is_no_model_lacks(
    tmp_path: Path, config: bool
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    if config:
        (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b,label\nx,y,1\nx,z,0\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["calibrate", str(folder), "--data", str(pairs), "--out", str(out)]
    )
    assert res.exit_code != 0
    assert "--out is for a pretrained text model" not in res.output, res.output
    said = "has no tokenizer and no weights" if config else "is not a model folder: it has no"
    assert f"Error: {folder} {said}" in res.output, res.output
    assert not out.exists()


@pytest.mark.parametrize("inside", [True, False], ids=["MODEL/onnx", "text export --out edge"])
def test_calibrate_out_on_a_text_export_names_it_as_an_export(tmp_path: Path, inside: bool) -> None:
    """A text model's ONNX export (no siamkit.json; its tokenizer in tokenizer/) given with --out
    was told it "has no siamkit.json, config.json, tokenizer or weights" (s58_r7 finding 3); it
    gets the sentence it gets without --out: an export, and the model to give instead."""
    model = tmp_path / "model"
    export = model / "onnx" if inside else tmp_path / "edge"
    (export / "tokenizer").mkdir(parents=True)
    (export / "tokenizer" / "tokenizer.json").write_text("{}")
    (export / "text_onnx.json").write_text("{}")
    if inside:
        (model / "siamkit.json").write_text("{}")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b,label\nx,y,1\nx,z,0\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["calibrate", str(export), "--data", str(pairs), "--out", str(out)]
    )
    assert res.exit_code != 0
    said = (
        f"is the ONNX export of the model {model}," if inside else "is a text model's ONNX export"
    )
    assert f"Error: {export} {said}" in res.output, res.output
    assert not out.exists()


def test_calibrate_out_on_a_run_that_saved_no_model_says_resume(tmp_path: Path) -> None:
    """An interrupted run's folder (checkpoint.pt, no model/) given with --out got the generic
    "is not a model folder" sentence, where without --out it is told that --resume finishes the
    run (s58 FB Q3); it now gets that sentence with --out too."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b,label\nx,y,1\nx,z,0\n")
    out = tmp_path / "out"
    runner = CliRunner()
    without = runner.invoke(cli, ["calibrate", str(run), "--data", str(pairs)])
    res = runner.invoke(cli, ["calibrate", str(run), "--data", str(pairs), "--out", str(out)])
    assert res.exit_code != 0
    assert f"Error: {run} is a training run's folder without a saved model" in res.output, (
        res.output
    )
    assert "--resume finishes it" in res.output, res.output
    assert res.output == without.output
    assert not out.exists()
