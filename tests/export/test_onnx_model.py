"""OnnxModel: the torch-facing adapter used by Gallery, verify/identify and serve --runtime onnx."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import siamkit
from siamkit.export.onnx_model import OnnxModel, load_onnx_model


def test_same_contract_as_the_torch_model(bundle, exported, fmnist_images):
    net = siamkit.load_model(bundle)
    model = OnnxModel(bundle, threads=1)
    assert (model.embedding_dim, model.distance_name, model.input_shape) == (
        net.embedding_dim, net.distance_name, net.input_shape,
    )  # fmt: skip
    assert model.threshold == pytest.approx(net.threshold)
    assert model.fingerprint == siamkit.model_fingerprint(net)
    x = torch.from_numpy(fmnist_images[:20])
    with torch.no_grad():
        want_z, want_d = net.embed(x), net(x[:10], x[10:])
    z = model.embed(x)
    assert isinstance(z, torch.Tensor) and z.dtype == torch.float32 and z.shape == (20, 32)
    assert (z - want_z).abs().max() <= 1e-4
    assert (model(x[:10], x[10:]) - want_d).abs().max() <= 1e-4
    assert model.eval() is model and model.to("cpu") is model and not model.training


@pytest.mark.parametrize(
    ("x", "error"),
    [
        (torch.zeros(2, 3, 28, 28), ValueError),  # wrong channel count
        (torch.zeros(2, 1, 14, 14), ValueError),  # wrong size
        (torch.full((1, 1, 28, 28), float("nan")), ValueError),
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), TypeError),
        (np.zeros((2, 1, 28, 28), np.float32), TypeError),  # like the torch model: tensors only
    ],
)
def test_bad_input_raises_like_the_torch_model(bundle, exported, x, error):
    net, model = siamkit.load_model(bundle), OnnxModel(exported)
    with pytest.raises(error):
        net.embed(x)
    with pytest.raises(error):
        model.embed(x)


def test_pairs_of_different_sizes_and_devices(exported):
    model = load_onnx_model(exported)
    with pytest.raises(ValueError, match="differ in size"):
        model(torch.zeros(2, 1, 28, 28), torch.zeros(3, 1, 28, 28))
    with pytest.raises(ValueError, match="providers"):
        model.to("cuda")


def test_gallery_built_with_torch_opens_with_onnx(bundle, exported, fmnist_images, tmp_path):
    from siamkit.index.gallery import Gallery

    net, model = siamkit.load_model(bundle), OnnxModel(bundle)
    assert siamkit.models.model_fingerprint(model) == siamkit.models.model_fingerprint(net)
    x = torch.from_numpy(fmnist_images[:12])
    with Gallery.open(tmp_path / "g.db", net) as g:
        for i in range(4):
            g.enroll(f"item{i}", x[3 * i : 3 * i + 2])
    with Gallery.open(tmp_path / "g.db", model) as g:  # same fingerprint: accepted
        got = [g.identify(x[3 * i + 2]).matches[0] for i in range(4)]
    with Gallery.open(tmp_path / "g.db", net) as g:
        want = [g.identify(x[3 * i + 2]).matches[0] for i in range(4)]
    assert [m.label for m in got] == [m.label for m in want]
    assert np.allclose([m.distance for m in got], [m.distance for m in want], atol=1e-4)
