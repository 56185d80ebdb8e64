"""The torch-free ONNX runtime, given a batch at the other branch's input shape of a half-twin
export, names both branches and what to give, as HalfTwinNetwork.embed_f/embed_g do (it said
"resize them first", which would feed one kind of input to the other kind's tower)."""

from __future__ import annotations

from pathlib import Path

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
    res.document.path.unlink()  # f alone: it cannot tell g's shape, so the old sentence
    with pytest.raises(ValueError, match="resize them first"):
        OnnxEmbedder(res.path).embed(g_img)
