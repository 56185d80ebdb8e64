"""The torch-free ONNX runtime, given a batch at the other branch's input shape of a half-twin
export, names both branches and what to give, as HalfTwinNetwork.embed_f/embed_g do (it said
"resize them first", which would feed one kind of input to the other kind's tower)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import siamkit
from siamkit.export.onnx import export_onnx
from siamkit.export.runtime import OnnxEmbedder
from siamkit.models import HalfTwinNetwork, Preprocess


def _net() -> HalfTwinNetwork:
    torch.manual_seed(0)
    conv = lambda: siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))  # noqa: E731
    pre_f, pre_g = Preprocess(input_shape=(1, 12, 12)), Preprocess(input_shape=(1, 8, 8))
    return HalfTwinNetwork(conv(), conv(), 4, preprocess_f=pre_f, preprocess_g=pre_g).eval()


def test_the_other_branchs_shape_is_named_as_the_torch_model_names_it(tmp_path: Path) -> None:
    net = _net()
    res = export_onnx(net, tmp_path / "m.onnx")
    assert res.document is not None
    f_img, g_img = np.random.rand(2, 1, 12, 12), np.random.rand(2, 1, 8, 8)
    f_graph, g_graph = OnnxEmbedder(res.path), OnnxEmbedder(res.document.path)
    for graph, wrong, torch_embed in ((f_graph, g_img, net.embed_f), (g_graph, f_img, net.embed_g)):
        with pytest.raises(ValueError) as torch_err:
            torch_embed(torch.from_numpy(wrong).float())
        with pytest.raises(ValueError) as onnx_err:
            graph.embed(wrong)
        assert str(onnx_err.value) == str(torch_err.value)
    assert str(onnx_err.value).startswith("branch g (the second kind, what is enrolled")
    assert f_graph.embed(f_img).shape == g_graph.embed(g_img).shape == (2, 4)
    with pytest.raises(ValueError, match="resize them first"):  # neither branch's shape
        f_graph.embed(np.random.rand(1, 1, 10, 10))
    res.document.path.unlink()  # f alone: its metadata records g's shape
    with pytest.raises(ValueError) as alone:
        OnnxEmbedder(res.path).embed(g_img)
    assert str(alone.value) == str(torch_message(net.embed_f, g_img))


def torch_message(embed: Any, wrong: np.ndarray) -> str:
    with pytest.raises(ValueError) as err:
        embed(torch.from_numpy(wrong).float())
    return str(err.value)


def _strip_tower_shapes(path: Path) -> None:
    """Make ``path`` an export from before the towers' shapes were recorded."""
    import onnx

    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props if p.key != "tower_input_shapes"}
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, meta)
    onnx.save_model(proto, str(path))


@pytest.mark.parametrize("branch", ["f", "g"])
def test_a_tower_exported_alone_names_the_other_tower(tmp_path: Path, branch: str) -> None:
    net = _net()
    f_img, g_img = np.random.rand(2, 1, 12, 12), np.random.rand(2, 1, 8, 8)
    res = export_onnx(net, tmp_path / f"{branch}.onnx", branch=branch)  # --branch: one file
    assert res.document is None and sorted(p.name for p in tmp_path.iterdir()) == [f"{branch}.onnx"]
    own, wrong, embed = (
        (f_img, g_img, net.embed_f) if branch == "f" else (g_img, f_img, net.embed_g)
    )
    graph = OnnxEmbedder(res.path)
    with pytest.raises(ValueError) as err:
        graph.embed(wrong)
    assert str(err.value) == torch_message(embed, wrong)
    assert graph.embed(own).shape == (2, 4)
    with pytest.raises(ValueError, match="resize them first"):  # neither tower's shape
        graph.embed(np.random.rand(1, 1, 10, 10))
    _strip_tower_shapes(res.path)  # an older export: no shapes recorded, no sibling
    with pytest.raises(ValueError, match="resize them first"):
        OnnxEmbedder(res.path).embed(wrong)


def test_a_branch_g_file_renamed_names_the_other_tower(tmp_path: Path) -> None:
    net = _net()
    res = export_onnx(net, tmp_path / "m.onnx")
    assert res.document is not None
    renamed = res.document.path.rename(tmp_path / "photos.onnx")  # off .document.onnx
    f_img = np.random.rand(2, 1, 12, 12)
    with pytest.raises(ValueError) as err:
        OnnxEmbedder(renamed).embed(f_img)
    assert str(err.value) == torch_message(net.embed_g, f_img)
    _strip_tower_shapes(renamed)  # older: the sibling it names is m.onnx, not found under this name
    with pytest.raises(ValueError, match="resize them first"):
        OnnxEmbedder(renamed).embed(f_img)


def test_an_older_export_of_both_towers_still_reads_its_sibling(tmp_path: Path) -> None:
    net = _net()
    res = export_onnx(net, tmp_path / "m.onnx")
    assert res.document is not None
    for path in (res.path, res.document.path):
        _strip_tower_shapes(path)
    g_img = np.random.rand(2, 1, 8, 8)
    assert OnnxEmbedder(res.path).info.tower_input_shapes == ()
    with pytest.raises(ValueError) as err:
        OnnxEmbedder(res.path).embed(g_img)
    assert str(err.value) == torch_message(net.embed_f, g_img)


def test_the_export_records_both_towers_input_shapes(tmp_path: Path) -> None:
    res = export_onnx(_net(), tmp_path / "m.onnx", branch="g")
    info = OnnxEmbedder(res.path).info
    assert (info.branch, info.tower_input_shapes) == ("g", (("f", (1, 12, 12)), ("g", (1, 8, 8))))
