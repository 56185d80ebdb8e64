"""int8 quantisation: static (calibrated, QDQ per-channel) and dynamic; accuracy vs fp32."""

from __future__ import annotations

import json
import time

import numpy as np
import onnx
import pytest
import torch

import siamkit
from siamkit.export.onnx import export_onnx, read_sidecar
from siamkit.export.quantize import quantize_onnx
from siamkit.export.runtime import OnnxEmbedder
from siamkit.losses import MultiSimilarityLoss


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_int8_file_is_smaller_close_and_recorded(
    bundle, exported, fmnist_images, calib_images, mode
):
    res = quantize_onnx(
        exported, mode=mode, calibration=calib_images, calibration_source="fmnist 0-5"
    )
    assert res.path == bundle / "model.int8.onnx"
    assert res.size_bytes < 0.5 * exported.stat().st_size  # int8 weights: about 4x smaller
    props = {p.key: p.value for p in onnx.load(str(res.path)).metadata_props}
    assert props["precision"] == "int8" and props["int8_mode"] == mode
    assert props["fingerprint"] == json.loads((bundle / "siamkit.json").read_text())["fingerprint"]
    ops = {n.op_type for n in onnx.load(str(res.path)).graph.node}
    assert ("QuantizeLinear" in ops) if mode == "static" else ("ConvInteger" in ops)
    fp32 = OnnxEmbedder(exported).embed(fmnist_images)
    emb = OnnxEmbedder(bundle, precision="int8")
    z = emb.embed(fmnist_images)
    assert emb.precision == "int8" and z.shape == fp32.shape
    assert np.abs(np.linalg.norm(z, axis=1) - 1).max() < 1e-4  # normalisation stays in float
    assert _cosine(z, fp32).min() > 0.98
    entry = read_sidecar(bundle)["exports"]["model.int8.onnx"]
    assert entry["int8_mode"] == mode and entry["source"] == "model.onnx"
    assert ("calibration" in entry) == (mode == "static")


def test_static_needs_matching_calibration(exported, calib_images, tmp_path):
    with pytest.raises(ValueError, match="calibration images"):
        quantize_onnx(exported, tmp_path / "a.onnx", mode="static")
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        quantize_onnx(exported, tmp_path / "a.onnx", calibration=calib_images[:, :, :20, :20])
    with pytest.raises(ValueError, match="NaN"):
        quantize_onnx(exported, tmp_path / "a.onnx", calibration=np.full((4, 1, 28, 28), np.nan))
    with pytest.raises(ValueError, match="int8 mode"):
        quantize_onnx(exported, tmp_path / "a.onnx", mode="int4")
    assert not (tmp_path / "a.onnx").exists()


def test_refuses_to_quantise_twice_or_a_missing_file(exported, tmp_path):
    int8 = quantize_onnx(exported, tmp_path / "q.onnx", mode="dynamic").path
    with pytest.raises(ValueError, match="already quantised"):
        quantize_onnx(int8, tmp_path / "qq.onnx", mode="dynamic")
    with pytest.raises(FileNotFoundError, match="siamkit export"):
        quantize_onnx(tmp_path / "missing.onnx", mode="dynamic")
    assert not (tmp_path / "onnx.json").exists()  # only model folders get a sidecar


def test_an_out_path_in_a_new_folder_is_written(exported, fmnist_images, tmp_path):
    """quantize_onnx(fp32, "edge/new/m.int8.onnx") failed with FileNotFoundError naming its own
    temporary folder (.quantizeXXXX) where the folder did not exist; export_onnx makes it."""
    dest = tmp_path / "edge" / "new" / "m.int8.onnx"
    res = quantize_onnx(exported, dest, mode="dynamic")
    assert res.path == dest and dest.is_file()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["m.int8.onnx"]  # no temporary left
    z = OnnxEmbedder(dest).embed(fmnist_images[:64])
    assert _cosine(z, OnnxEmbedder(exported).embed(fmnist_images[:64])).min() > 0.98


def _train_fmnist_disjoint(seconds_budget: float = 600.0) -> siamkit.SiameseNetwork:
    """A small convnet trained briefly on Fashion-MNIST classes 0-5 with multi-similarity loss."""
    from siamkit.data.fashion_mnist import load_fashion_mnist

    x, y = load_fashion_mnist("train")
    keep = y < 6
    x, y = x[keep], y[keep]
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[16, 32, 64])
    prep = siamkit.Preprocess(mean=(0.286,), std=(0.353,), input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(enc, embedding_dim=64, preprocess=prep)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn, gen, start = MultiSimilarityLoss(), torch.Generator().manual_seed(0), time.monotonic()
    net.train()
    for _ in range(150):
        idx = torch.randint(len(x), (128,), generator=gen)
        loss = loss_fn(net.embed(x[idx].unsqueeze(1).float() / 255.0), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if time.monotonic() - start > seconds_budget:
            break
    return net.eval()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_int8_few_shot_accuracy_within_one_point(tmp_path_factory, calib_images, mode):
    """fmnist-disjoint protocol: 4-way 1-shot on the 4,000 test images of classes 6-9."""
    from siamkit.data.fashion_mnist import load_fashion_mnist
    from siamkit.evaluation.few_shot import few_shot_episodes

    folder = tmp_path_factory.getbasetemp() / "trained-fmnist-0-5"
    if not (folder / "model.onnx").exists():  # train once for both modes
        siamkit.save_model(_train_fmnist_disjoint(), folder)
        export_onnx(folder)
    xt, yt = load_fashion_mnist("test")
    keep = yt >= 6
    x, y = (xt[keep].unsqueeze(1).float() / 255.0).numpy(), yt[keep].numpy()
    assert len(y) == 4000
    quantize_onnx(folder / "model.onnx", mode=mode, calibration=calib_images)
    with torch.no_grad():
        z_torch = siamkit.load_model(folder).embed(torch.from_numpy(x)).numpy()
    z_fp32 = OnnxEmbedder(folder).embed(x)
    z_int8 = OnnxEmbedder(folder, precision="int8").embed(x)
    assert np.abs(z_fp32 - z_torch).max() <= 1e-4
    acc = {
        name: few_shot_episodes(z, y, n_way=4, k_shot=1, n_query=15, episodes=1000, seed=0).accuracy
        for name, z in (("torch", z_torch), ("fp32", z_fp32), ("int8", z_int8))
    }
    assert acc["torch"] > 0.55, (
        acc
    )  # the model learned something, so the comparison means something
    assert acc["fp32"] == pytest.approx(acc["torch"], abs=1e-3)
    assert abs(acc["int8"] - acc["fp32"]) <= 0.01, acc
