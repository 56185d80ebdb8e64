"""The torch-free runtime (``runtime.py`` copied to a device beside the exported ``.onnx`` files)
on what a device user meets: its refusals say what to do on the device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import siamkit


def test_verify_on_a_half_twin_without_a_threshold_says_to_use_branch_g_not_calibrate(tmp_path):
    """A half-twin has no threshold (``siamkit calibrate`` refuses half-twins): verify() on its
    branch f graph said to run `siamkit calibrate MODEL`, which then refuses, instead of the
    half-twin's sentence (embed the second images with branch g's graph, compare distance())."""
    from siamkit.export.onnx import export_onnx
    from siamkit.export.runtime import OnnxEmbedder
    from siamkit.models import HalfTwinNetwork, Preprocess

    torch.manual_seed(0)
    conv = lambda: siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))  # noqa: E731
    pre_f, pre_g = Preprocess(input_shape=(1, 12, 12)), Preprocess(input_shape=(1, 8, 8))
    net = HalfTwinNetwork(conv(), conv(), 4, preprocess_f=pre_f, preprocess_g=pre_g).eval()
    res = export_onnx(net, tmp_path / "model.onnx")
    f_graph = OnnxEmbedder(res.path)
    assert f_graph.threshold is None
    f_img = np.random.default_rng(0).random((2, 1, 12, 12))
    with pytest.raises(ValueError) as err:
        f_graph.verify(f_img, f_img)
    message = str(err.value)
    assert "siamkit calibrate" not in message
    assert "embed the second images with model.document.onnx" in message, message
    assert res.document is not None  # branch g's graph: the other way round
    with pytest.raises(ValueError, match="embed the first images with branch f's graph"):
        OnnxEmbedder(res.document.path).verify(f_img[:, :, :8, :8], f_img[:, :, :8, :8])


def test_serving_an_export_copied_without_its_siamkit_json_says_to_copy_it(exported, tmp_path):
    """`siamkit serve FOLDER --runtime onnx` of a folder holding only the copied model.onnx
    said it was not a siamkit model folder at all; it now says to copy siamkit.json (the
    kind and threshold the runtime serves with) beside the export."""
    import shutil

    from siamkit.export.serving import load_for_serving

    shutil.copy(exported, tmp_path / "model.onnx")
    with pytest.raises(ValueError) as err:
        load_for_serving(tmp_path, "onnx")
    assert "model.onnx but not siamkit.json" in str(err.value)
    assert "copy siamkit.json from the model folder" in str(err.value)
    shutil.copy(exported.parent / "siamkit.json", tmp_path / "siamkit.json")
    assert load_for_serving(tmp_path, "onnx").threshold == 0.75


def test_a_channels_last_or_wrong_channel_batch_says_how_to_fix_it(exported, fmnist_images):
    """Pillow gives (H, W, C) pixels: a batch stacked as they come was answered "the model
    takes 1-channel images, got 28 channels", and an RGB batch for a grey model only "got 3
    channels", neither saying what to do."""
    from siamkit.export.runtime import OnnxEmbedder

    emb = OnnxEmbedder(exported)
    with pytest.raises(ValueError, match=r"1 channel last.* or x\.transpose\(0, 3, 1, 2\) \(a"):
        emb.embed(fmnist_images[:2].transpose(0, 2, 3, 1))
    with pytest.raises(ValueError, match=r"got 3 channels; convert the images to grey \('L'\)"):
        emb.embed(np.repeat(fmnist_images[:2], 3, axis=1))
    emb.embed(fmnist_images[:2].transpose(0, 2, 3, 1).transpose(0, 3, 1, 2))  # as it says


def test_opening_a_graph_that_was_not_copied_says_what_to_copy(tmp_path):
    """The device block opens model.int8.onnx; where only model.onnx was copied the runtime
    said just 'no ONNX model at model.int8.onnx'."""
    from siamkit.export.runtime import OnnxEmbedder

    with pytest.raises(FileNotFoundError) as err:
        OnnxEmbedder(tmp_path / "model.int8.onnx")
    assert str(err.value).startswith(f"no ONNX model at {tmp_path / 'model.int8.onnx'}; copy")
    assert "siamkit export MODEL --format onnx" in str(err.value)


def test_onnx_json_of_a_half_twin_gives_each_graph_its_own_shape(tmp_path):
    """onnx.json (what an ONNX-only consumer reads beside the graphs) had one top-level input
    shape, taken from whichever graph was recorded last: after `export --branch g` it gave
    g's (1, 8, 8) while listing model.onnx, branch f's graph of (1, 12, 12) inputs, and no
    entry said which branch or size it was."""
    import json

    from click.testing import CliRunner

    from siamkit.cli.main import cli
    from siamkit.models import HalfTwinNetwork, Preprocess

    torch.manual_seed(0)
    conv = lambda: siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))  # noqa: E731
    pre_f, pre_g = Preprocess(input_shape=(1, 12, 12)), Preprocess(input_shape=(1, 8, 8))
    net = HalfTwinNetwork(conv(), conv(), 4, preprocess_f=pre_f, preprocess_g=pre_g).eval()
    folder = siamkit.save_model(net, tmp_path / "model")
    for args in (["--int8-mode", "dynamic"], ["--branch", "g"]):
        res = CliRunner().invoke(cli, ["export", str(folder), *args])
        assert res.exit_code == 0, res.output
    doc = json.loads((folder / "onnx.json").read_text())
    assert doc["input"]["shape"] == ["N", 1, 12, 12]  # branch f's: what is searched with
    assert doc["preprocess"]["input_shape"] == [1, 12, 12]
    shapes = {name: (e["branch"], e["input_shape"]) for name, e in doc["exports"].items()}
    assert shapes == {
        "model.onnx": ("f", [1, 12, 12]),
        "model.int8.onnx": ("f", [1, 12, 12]),
        "model.document.onnx": ("g", [1, 8, 8]),
        "model.document.int8.onnx": ("g", [1, 8, 8]),
        "model.g.onnx": ("g", [1, 8, 8]),
    }


def test_onnx_json_of_a_branch_g_exported_alone_describes_it(tmp_path):
    """The first graph of a model recorded in onnx.json describes the top level, a branch g
    exported alone too (its only graph)."""
    import json

    from click.testing import CliRunner

    from siamkit.cli.main import cli
    from siamkit.models import HalfTwinNetwork, Preprocess

    torch.manual_seed(0)
    conv = lambda: siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))  # noqa: E731
    pre_f, pre_g = Preprocess(input_shape=(1, 12, 12)), Preprocess(input_shape=(1, 8, 8))
    net = HalfTwinNetwork(conv(), conv(), 4, preprocess_f=pre_f, preprocess_g=pre_g).eval()
    folder = siamkit.save_model(net, tmp_path / "model")
    res = CliRunner().invoke(cli, ["export", str(folder), "--branch", "g"])
    assert res.exit_code == 0, res.output
    doc = json.loads((folder / "onnx.json").read_text())
    assert doc["input"]["shape"] == ["N", 1, 8, 8] and list(doc["exports"]) == ["model.g.onnx"]


def test_a_text_export_given_to_the_image_runtime_names_the_text_runtime(tmp_path):
    """OnnxEmbedder("edge/") of a `siamkit text export` folder said to create model.onnx with
    `siamkit export edge`, and of edge/text.onnx that it was not exported by siamkit."""
    import onnx

    from siamkit.export.runtime import OnnxEmbedder

    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "tokenizer.json").write_text("{}")
    ids = onnx.helper.make_tensor_value_info("input_ids", onnx.TensorProto.INT64, ["N", "L"])
    out = onnx.helper.make_tensor_value_info("pooled", onnx.TensorProto.INT64, ["N", "L"])
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["input_ids"], ["pooled"])], "g", [ids], [out]
    )
    onnx.save(onnx.helper.make_model(graph), str(tmp_path / "text.onnx"))
    for given, kw in (
        (tmp_path, {}),
        (tmp_path, {"precision": "int8"}),
        (tmp_path / "text.onnx", {}),
    ):
        with pytest.raises(ValueError, match=r"is a text model's export .*TextOnnxEmbedder"):
            OnnxEmbedder(given, **kw)
