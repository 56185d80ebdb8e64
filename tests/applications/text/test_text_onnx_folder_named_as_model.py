"""The torch-free ONNX runtime names an export folder called ``all-MiniLM-L6-v2`` (as
``--onnx-dir all-MiniLM-L6-v2`` gives it) ``./all-MiniLM-L6-v2`` in every refusal, as its
lexical tower's refusal does: its other refusals said ``all-MiniLM-L6-v2 has no text.onnx``,
the bundled model's name, one folder named two ways by one runtime (s60_r6 finding 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from siamkit.applications.text.onnx import (
    DOC_ONNX_NAME,
    META_NAME,
    ONNX_NAME,
    TextOnnxEmbedder,
    _checked_runtime,
)
from siamkit.cli.main import cli

NAME = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def export(tiny_hf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("made") / "edge"
    res = CliRunner().invoke(cli, ["text", "export", "--model", str(tiny_hf), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _placed(export: Path, here: Path, missing: str | None = None) -> Path:
    ignore = shutil.ignore_patterns(missing) if missing else None
    shutil.copytree(export, here / NAME, ignore=ignore)
    return Path(NAME)


def _refusal(folder: Path, **kwargs: object) -> str:
    with pytest.raises(ValueError) as err:
        TextOnnxEmbedder(folder, **kwargs)  # type: ignore[arg-type]
    return str(err.value)


@pytest.mark.parametrize("missing", [ONNX_NAME, META_NAME, "tokenizer"])
def test_an_incomplete_copy_is_named_with_its_dot(export, here, missing) -> None:
    said = _refusal(_placed(export, here, missing))
    shown = "tokenizer/tokenizer.json" if missing == "tokenizer" else missing
    assert said.startswith(f"./{NAME} has no {shown}; "), said


def test_a_missing_folder_is_named_with_its_dot(here) -> None:
    assert _refusal(Path(NAME)).startswith(f"./{NAME} does not exist; ")


def test_an_export_without_int8_is_named_with_its_dot(export, here) -> None:
    said = _refusal(_placed(export, here), int8=True)
    assert said.startswith(f"./{NAME} has no text.int8.onnx; "), said


def test_a_half_twin_without_its_document_tower_is_named_with_its_dot(export, here) -> None:
    folder = _placed(export, here)
    meta = json.loads((folder / META_NAME).read_text())
    (folder / META_NAME).write_text(json.dumps({**meta, "document_tower": True}))
    said = _refusal(folder)
    assert said.startswith(f"./{NAME} holds a half-twin's query tower but not its document ")
    assert DOC_ONNX_NAME in said


def test_the_checked_runtime_names_the_folder_with_its_dot(export, here) -> None:
    folder = _placed(export, here)
    fingerprint = json.loads((folder / META_NAME).read_text())["fingerprint"]
    with pytest.raises(ValueError) as err:
        _checked_runtime(folder, True, fingerprint)
    assert str(err.value).startswith(f"./{NAME} holds no exported text.int8.onnx; "), err.value
    with pytest.raises(ValueError) as err:
        _checked_runtime(folder, False, "another model's")
    assert str(err.value).startswith(f"./{NAME} was exported from another model "), err.value
    assert _checked_runtime(folder, False, fingerprint).embed(["hello"]).shape[0] == 1


def test_a_folder_of_another_name_is_named_as_before(export, here) -> None:
    """The control: a folder not named as a model keeps Path's spelling."""
    shutil.copytree(export, here / "edge", ignore=shutil.ignore_patterns(ONNX_NAME))
    assert _refusal(Path("edge")).startswith("edge has no text.onnx; ")
