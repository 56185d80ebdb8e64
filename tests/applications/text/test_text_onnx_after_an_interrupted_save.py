"""s62_LR2 Q4: after a save killed past its renames, a text model's export sits in
``.M.old/onnx``; TextOnnxEmbedder("M/onnx") said it "does not exist" and to copy or re-export it.
It now says where the interrupted save left it (an export of the model now in M only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.export.bundle import CONFIG_FILE, save_model
from siamkit.models import Preprocess, SiameseNetwork


def _model_folder(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    net = SiameseNetwork(enc, 16, preprocess=Preprocess((0.5,), (0.25,), (1, 28, 28))).eval()
    net.threshold = 0.5
    return save_model(net, tmp_path / "M")


def _left_export(model: Path, fingerprint: str) -> Path:
    """What a kill after the renames leaves: the export in .M.old/onnx."""
    left = model.with_name(f".{model.name}.old") / "onnx"
    (left / "tokenizer").mkdir(parents=True)
    (left / "tokenizer" / "tokenizer.json").write_text("{}")
    (left / "model.onnx").write_bytes(b"graph")
    (left / "text_onnx.json").write_text(json.dumps({"fingerprint": fingerprint, "threshold": 0.5}))
    return left


def test_the_text_runtime_names_where_an_interrupted_save_left_the_export(
    tmp_path: Path,
) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    from siamkit.applications.text.onnx import TextOnnxEmbedder

    model = _model_folder(tmp_path)
    left = _left_export(model, json.loads((model / CONFIG_FILE).read_text())["fingerprint"])
    with pytest.raises(ValueError) as err:
        TextOnnxEmbedder(model / "onnx")
    assert str(err.value) == (
        f"{model / 'onnx'} does not exist: an interrupted save of the model left it in {left}; "
        f"load the model once with siamkit (`siamkit serve {model}`, or "
        "siamkit.export.load_model) to finish that save"
    )


def test_another_models_export_left_there_is_not_sent_to_a_load(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    from siamkit.applications.text.onnx import TextOnnxEmbedder

    model = _model_folder(tmp_path)
    _left_export(model, "another model's fingerprint")  # the replaced model's: a load removes it
    with pytest.raises(ValueError) as err:
        TextOnnxEmbedder(model / "onnx")
    assert str(err.value).startswith(f"{model / 'onnx'} does not exist; a text export is one ")
