"""/info's embedding parts under ``--runtime onnx``: those of the torch model it was exported
from, not the whole embedding as one "learned" part."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

import siamkit
from siamkit.export.serving import load_for_serving
from siamkit.heads import AppearanceFeatures
from siamkit.models import Preprocess
from siamkit.service import create_app

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _parts(model: object) -> list[tuple[str, int]]:
    with TestClient(create_app(model, None)) as client:
        parts = client.get("/info").json()["model"]["embedding_parts"]
    return [(p["name"], p["dim"]) for p in parts]


def test_an_onnx_runtime_names_the_parts_of_the_model_it_was_exported_from(
    tmp_path: Path,
) -> None:
    """The demo's model (64 learned + 240 HOG values) served with --runtime onnx-int8 told the
    page and /info its 304 values were all 'Values the network learned in training'."""
    from siamkit.export.onnx import export_onnx

    torch.manual_seed(0)
    learned = siamkit.SiameseNetwork(
        siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16]),
        embedding_dim=8,
        preprocess=Preprocess(mean=(0.286,), std=(0.353,), input_shape=(1, 28, 28)),
    )
    net = siamkit.JoinedEmbedding(learned.eval(), AppearanceFeatures(features="hog", pool=7), 1.0)
    folder = siamkit.save_model(net.eval(), tmp_path / "model")
    export_onnx(folder)
    want = _parts(siamkit.load_model(folder))
    assert want == [("learned", 8), ("appearance", 192)]
    assert _parts(load_for_serving(folder, "onnx")) == want


def test_damaged_torch_weights_beside_the_export_do_not_stop_the_onnx_service(
    tmp_path: Path,
) -> None:
    """The ONNX runtime never reads model.safetensors: weights that no longer load (truncated
    after the export) leave the parts undescribed, not the service unstarted."""
    from siamkit.export.onnx import export_onnx

    net = siamkit.SiameseNetwork(
        siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16]),
        embedding_dim=8,
        preprocess=Preprocess(input_shape=(1, 28, 28)),
    ).eval()
    folder = siamkit.save_model(net, tmp_path / "model")
    export_onnx(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    assert _parts(load_for_serving(folder, "onnx")) == [("learned", 8)]
