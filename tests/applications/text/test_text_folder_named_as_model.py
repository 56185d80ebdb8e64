"""A folder named as a model, ``./all-MiniLM-L6-v2``, is a folder wherever it is given.

``load_text_model("./all-MiniLM-L6-v2")`` went through ``Path()``, which writes it
``all-MiniLM-L6-v2``, the bundled model's name: where no such folder was, it loaded the bundled
model instead of refusing, and where an empty one was, the refusal read "all-MiniLM-L6-v2 is not a
model folder", naming the model rather than the folder the user typed. The text commands'
``--model`` said "Directory 'all-MiniLM-L6-v2' does not exist" the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.applications.text import load_text_model
from siamkit.cli.main import cli

pytest.importorskip("transformers")

FOLDER = "./all-MiniLM-L6-v2"


@pytest.mark.parametrize("given", [FOLDER, Path(FOLDER)], ids=["str", "Path"])
def test_a_missing_folder_named_as_the_model_is_refused_not_read_as_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"^\./all-MiniLM-L6-v2 is not a folder; "):
        load_text_model(given)


def test_an_empty_folder_named_as_the_model_is_named_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "all-MiniLM-L6-v2").mkdir()
    with pytest.raises(ValueError, match=r"^\./all-MiniLM-L6-v2 is not a model folder: "):
        load_text_model(FOLDER)
    result = CliRunner().invoke(cli, ["text", "similarity", "--model", FOLDER, "a b", "a c"])
    assert result.exit_code == 1, result.output
    assert "Error: ./all-MiniLM-L6-v2 is not a model folder: " in result.output


def test_the_model_option_names_a_missing_folder_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["text", "similarity", "--model", FOLDER, "a b", "a c"])
    assert result.exit_code == 2, result.output
    assert "Directory './all-MiniLM-L6-v2' does not exist" in result.output
