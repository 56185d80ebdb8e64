"""The text models' names and :func:`~siamkit.text_names.shown_folder` are torch-free: they sat
in ``siamkit.encoders.text_zoo``, whose package's ``__init__`` imports torch, so importing
``shown_folder`` loaded torch, though its docstring said torch-free, and the lexical tower of
the torch-free ONNX runtime took the folder's name from its caller as ``shown=`` instead
(s59_FB finding 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.mark.parametrize(
    "module",
    ["siamkit.text_names", "siamkit.applications.text.lexical", "siamkit.encoders.text_zoo"],
)
def test_importing_the_folder_names_loads_no_torch(module: str) -> None:
    """Run from this checkout's src, whatever PYTHONPATH says; text_zoo is the control."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    code = f"import sys, {module}; print('torch' in sys.modules)"
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == ("True" if module.endswith("text_zoo") else "False")


def test_the_names_are_text_zoos_own() -> None:
    """The old home still gives the same objects (tests patch text_zoo.NAMED_TEXT_MODELS)."""
    from siamkit import text_names
    from siamkit.encoders import text_zoo

    assert text_zoo.shown_folder is text_names.shown_folder
    assert text_zoo.NAMED_TEXT_MODELS is text_names.NAMED_TEXT_MODELS
    assert text_zoo.is_text_model_name is text_names.is_text_model_name


def test_the_lexical_tower_names_a_folder_named_as_the_model_with_its_dot(tmp_path, monkeypatch):
    """LexicalTower.load, as the ONNX runtime calls it (no name from a caller), keeps the ./ of
    ./all-MiniLM-L6-v2: without it the sentence named the bundled model."""
    from siamkit.applications.text.lexical import LexicalTower

    monkeypatch.chdir(tmp_path)
    (tmp_path / "all-MiniLM-L6-v2").mkdir()
    with pytest.raises(ValueError) as err:
        LexicalTower.load(Path("./all-MiniLM-L6-v2"))
    assert str(err.value) == (
        "./all-MiniLM-L6-v2 has no lexical.json / lexical.npz, which its config says the model "
        "joins"
    )
