"""Where an interrupted save left an export is looked up for relative folders too: a model
folder given as "." or a text export given as "onnx" (MODEL/onnx from inside MODEL) has a
parent with no name, which ``Path.with_name`` refuses ("PosixPath('.') has an empty name")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from siamkit.export.runtime import _interrupted_save_left


def _model_with_export_left(root: Path) -> Path:
    model = root / "m"
    model.mkdir()
    record = {"fingerprint": "f", "threshold": 0.5}
    (model / "siamkit.json").write_text(json.dumps(record))
    old = root / ".m.old"
    old.mkdir()
    (old / "model.onnx").write_bytes(b"graph")
    (old / "onnx.json").write_text(json.dumps(record))
    return model


def test_a_model_folder_given_as_dot_finds_what_a_killed_save_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model_with_export_left(tmp_path)
    monkeypatch.chdir(model)
    left = _interrupted_save_left(Path("."), "model.onnx")
    assert left is not None and left.resolve() == (tmp_path / ".m.old").resolve()


def test_a_relative_model_folder_finds_it_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _model_with_export_left(tmp_path)
    monkeypatch.chdir(tmp_path)
    left = _interrupted_save_left(Path("m"), "model.onnx")
    assert left is not None and left.resolve() == (tmp_path / ".m.old").resolve()
