"""A text export copied to a device without all of it, as the edge walk did: the torch-free
runtime said "edge has no tokenizer/tokenizer.json" with no way on, and of a missing
text_onnx.json "export it with export_text_onnx first" (a Python function, on a device without
torch). Each now says that an export is one folder to copy whole, or the command that exports it
again; the command it names is run here and gives a working export."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from siamkit.applications.text.onnx import META_NAME, ONNX_NAME, TextOnnxEmbedder
from siamkit.cli.main import cli

WHOLE = (
    "a text export is one folder, its graph (text.onnx), text_onnx.json and tokenizer/ "
    "together: copy the whole export folder"
)


@pytest.fixture(scope="module")
def export(tiny_hf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("made") / "edge"
    res = CliRunner().invoke(cli, ["text", "export", "--model", str(tiny_hf), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _copy_without(export: Path, to: Path, missing: str) -> Path:
    shutil.copytree(export, to, ignore=shutil.ignore_patterns(missing))
    return to


def _refusal(folder: Path, **kwargs: Any) -> str:
    with pytest.raises(ValueError) as err:
        TextOnnxEmbedder(folder, **kwargs)
    return str(err.value)


def _run_named_command(said: str, **replace: str) -> None:
    """Run the `siamkit text export ...` command a refusal names (placeholders replaced)."""
    (command,) = [c for c in said.split("`")[1::2] if c.startswith("siamkit text export")]
    for old, new in replace.items():
        command = command.replace(old, new)
    res = CliRunner().invoke(cli, command.split()[1:])
    assert res.exit_code == 0, (command, res.output)


def test_a_copy_without_its_tokenizer_says_to_copy_the_folder_or_export_again(
    export, tiny_hf, tmp_path
) -> None:
    edge = _copy_without(export, tmp_path / "edge", "tokenizer")
    said = _refusal(edge)  # on a device: the model's folder is not known
    assert said.startswith(f"{edge} has no tokenizer/tokenizer.json; {WHOLE} here, "), said
    assert f"`siamkit text export --model <model folder> --out {edge} --int8 --force`" in said
    assert f"`siamkit export <model folder> --format onnx --int8 --out {edge} --force`" in said
    named = _refusal(edge, model_path=tiny_hf)  # a Hugging Face folder: `siamkit text export`
    assert named.endswith(f"`siamkit text export --model {tiny_hf} --out {edge} --int8 --force`")
    _run_named_command(named)  # --force replaces the incomplete export
    assert TextOnnxEmbedder(edge, int8=True).embed(["hello"]).shape[0] == 1


def test_a_copy_without_text_onnx_json_names_no_python_function(export, tiny_hf, tmp_path) -> None:
    edge = _copy_without(export, tmp_path / "edge", META_NAME)
    said = _refusal(edge)
    assert said.startswith(f"{edge} has no {META_NAME}; {WHOLE} here, "), said
    assert "export_text_onnx" not in said
    # the exporter refuses a folder that is no export, --force or not: a new folder is named
    refused = CliRunner().invoke(
        cli, ["text", "export", "--model", str(tiny_hf), "--out", str(edge), "--force"]
    )
    assert refused.exit_code != 0 and "is not a text ONNX export" in refused.output
    assert (
        "export the model again into a new folder with `siamkit export <model folder> --format "
        "onnx --int8 --out <new folder>`" in said
    )
    assert "`siamkit text export --model <model folder> --out <new folder> --int8`" in said
    fresh = tmp_path / "fresh"
    _run_named_command(said, **{"<model folder>": str(tiny_hf), "<new folder>": str(fresh)})
    assert TextOnnxEmbedder(fresh).embed(["hello"]).shape[0] == 1


def test_a_copy_without_its_graph_or_no_folder_at_all_says_the_same(export, tmp_path) -> None:
    edge = _copy_without(export, tmp_path / "edge", ONNX_NAME)
    said = _refusal(edge)
    assert said.startswith(f"{edge} has no {ONNX_NAME}; {WHOLE} here, "), said
    assert "export_text_onnx" not in said and f"--out {edge} --int8 --force`" in said
    nowhere = tmp_path / "nowhere"
    said = _refusal(nowhere)
    assert said.startswith(f"{nowhere} does not exist; {WHOLE} there, "), said
    assert f"`siamkit text export --model <model folder> --out {nowhere} --int8`" in said
