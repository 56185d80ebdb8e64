"""A folder typed as ``./all-MiniLM-L6-v2`` (the bundled text model's name, after ``./``) given
to evaluate, serve or calibrate was named ``all-MiniLM-L6-v2`` by the siamkit.json reader
(``Path`` drops the ``./``): "all-MiniLM-L6-v2 does not exist", while ``evaluate
all-MiniLM-L6-v2`` runs the bundled model. The reader now keeps the ``./`` in every refusal
(s58_r7 finding 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.export.bundle import ModelFileError, read_model_config
from siamkit.export.sidecar import TEXT_EXPORT_META


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("made", [False, True], ids=["missing", "empty"])
def test_evaluate_names_the_folder_with_its_dot_slash(in_tmp: Path, made: bool) -> None:
    if made:
        (in_tmp / "all-MiniLM-L6-v2").mkdir()
    (in_tmp / "pairs.csv").write_text("a,b,label\nx,y,1\nx,z,0\n")
    res = CliRunner().invoke(cli, ["evaluate", "./all-MiniLM-L6-v2", "--data", "pairs.csv"])
    assert res.exit_code != 0
    said = "has no siamkit.json" if made else "does not exist"
    assert f"Error: ./all-MiniLM-L6-v2 {said}" in res.output, res.output


def test_the_reader_keeps_the_dot_slash_of_a_run_and_an_export(in_tmp: Path) -> None:
    run = in_tmp / "all-MiniLM-L6-v2"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match=r"^\./all-MiniLM-L6-v2 is a training run's folder"):
        read_model_config("./all-MiniLM-L6-v2")
    (run / "checkpoint.pt").unlink()
    (run / "siamkit.json").write_text(json.dumps({"format": "x"}))
    (run / "onnx").mkdir()
    (run / "onnx" / TEXT_EXPORT_META).write_text("{}")
    with pytest.raises(
        ModelFileError,
        match=r"^all-MiniLM-L6-v2/onnx is the ONNX export of the model \./all-MiniLM-L6-v2,",
    ):
        read_model_config(Path("./all-MiniLM-L6-v2/onnx"))


def test_the_format_version_refusal_keeps_the_dot_slash(in_tmp: Path) -> None:
    """It named ``{folder}``, the bundled model's name (s58 FB Q1)."""
    (in_tmp / "all-MiniLM-L6-v2").mkdir()
    doc = {"format": "siamkit-model", "format_version": 10**6, "siamkit_version": "99"}
    (in_tmp / "all-MiniLM-L6-v2" / "siamkit.json").write_text(json.dumps(doc))
    with pytest.raises(
        ModelFileError, match=r"^\./all-MiniLM-L6-v2 was written in model format 1000000 by"
    ):
        read_model_config("./all-MiniLM-L6-v2")


def test_the_plug_in_refusals_keep_the_dot_slash() -> None:
    """Both named ``{folder}``, a ``Path`` that writes ./all-MiniLM-L6-v2 as the bundled model's
    name (s58 FB Q1)."""
    from siamkit.export.bundle import _plugin_failed, _untrusted
    from siamkit.registry import PluginNotImportedError

    folder = Path("./all-MiniLM-L6-v2")
    failed = _plugin_failed(folder, {"my_plugin": "No module named 'my_plugin'"})
    assert str(failed).startswith("./all-MiniLM-L6-v2 cannot be loaded: the plug-in module "), (
        failed
    )
    err = PluginNotImportedError("not imported", part="encoder 'tiny'")
    untrusted = _untrusted(folder, err, ["my_plugin"])
    assert str(untrusted).startswith("./all-MiniLM-L6-v2 cannot be loaded: its encoder 'tiny'")
