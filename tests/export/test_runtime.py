"""OnnxEmbedder: torch-free import, the embed contract, metadata, and clear input errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import siamkit
from siamkit.export import runtime
from siamkit.export.runtime import OnnxEmbedder

SRC = Path(__file__).resolve().parents[2] / "src"
RUNTIME_FILE = SRC / "siamkit" / "export" / "runtime.py"


def _run_blocked(code: str, blocked: str = "torch") -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where importing ``blocked`` fails."""
    prelude = f"import sys\nsys.modules[{blocked!r}] = None\n"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_runtime_file_runs_without_torch(exported, fmnist_images, tmp_path):
    """The module imports only numpy + onnxruntime: it embeds with torch unavailable."""
    np.save(tmp_path / "x.npy", fmnist_images[:4])
    code = f"""
        import importlib.util
        import numpy as np
        spec = importlib.util.spec_from_file_location("siamkit_runtime", {str(RUNTIME_FILE)!r})
        mod = importlib.util.module_from_spec(spec)
        sys.modules["siamkit_runtime"] = mod
        spec.loader.exec_module(mod)
        emb = mod.OnnxEmbedder({str(exported)!r}, threads=1)
        np.save({str(tmp_path / "z.npy")!r}, emb.embed(np.load({str(tmp_path / "x.npy")!r})))
        assert sys.modules["torch"] is None
        print(emb.distance_name, emb.embedding_dim)
    """
    res = _run_blocked(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["euclidean", "32"]
    want = siamkit.load_model(exported.parent).embed(torch.from_numpy(fmnist_images[:4]))
    assert np.abs(np.load(tmp_path / "z.npy") - want.detach().numpy()).max() <= 1e-4


def test_package_import_path_works_without_torch(exported):
    res = _run_blocked(
        f"from siamkit.export.runtime import OnnxEmbedder\nOnnxEmbedder({str(exported)!r})"
    )
    assert res.returncode == 0, res.stderr


def test_missing_onnxruntime_says_how_to_install(exported):
    code = f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("rt", {str(RUNTIME_FILE)!r})
        mod = importlib.util.module_from_spec(spec)
        sys.modules["rt"] = mod
        spec.loader.exec_module(mod)  # importing works without onnxruntime ...
        try:
            mod.OnnxEmbedder({str(exported)!r})  # ... using it says what to install
        except ImportError as err:
            print(err)
    """
    res = _run_blocked(code, blocked="onnxruntime")
    assert res.returncode == 0, res.stderr
    assert "pip install 'siamkit[onnx]'" in res.stdout


def test_embed_contract_and_metadata(bundle, exported, fmnist_images):
    net = siamkit.load_model(bundle)
    emb = OnnxEmbedder(bundle, threads=1)  # a model folder resolves to model.onnx
    assert emb.path == exported
    assert (emb.embedding_dim, emb.distance_name, emb.input_shape) == (32, "euclidean", (1, 28, 28))
    assert emb.threshold == pytest.approx(net.threshold)
    assert emb.fingerprint == siamkit.model_fingerprint(net)
    assert emb.precision == "fp32" and emb.providers == ["CPUExecutionProvider"]
    z = emb.embed(fmnist_images[:40].astype(np.float64), batch_size=16)  # chunks of 16, float64 in
    assert z.dtype == np.float32 and z.shape == (40, 32)
    with torch.no_grad():
        want = net.embed(torch.from_numpy(fmnist_images[:40])).numpy()
    assert np.abs(z - want).max() <= 1e-4
    assert np.abs(emb(torch.from_numpy(fmnist_images[:3])) - want[:3]).max() <= 1e-4  # tensors too
    assert emb.embed(np.zeros((0, 1, 28, 28), np.float32)).shape == (0, 32)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((2, 3, 28, 28), np.float32), ValueError, "1-channel images, got 3"),
        (np.zeros((2, 1, 32, 32), np.float32), ValueError, "resize them first"),
        (np.zeros((1, 28, 28), np.float32), ValueError, r"\(N, C, H, W\)"),
        (np.full((1, 1, 28, 28), np.nan, np.float32), ValueError, "NaN"),
        (np.zeros((1, 1, 28, 28), np.uint8), TypeError, "divide uint8 images by 255"),
        (np.array([["a"]]), TypeError, "numeric"),
    ],
)
def test_bad_input_is_named(exported, x, error, match):
    emb = OnnxEmbedder(exported)
    with pytest.raises(error, match=match):
        emb.embed(x)


def test_bad_files_and_options(bundle, exported, tmp_path):
    with pytest.raises(FileNotFoundError, match="--int8"):  # this module never quantises
        OnnxEmbedder(bundle, precision="int8")
    with pytest.raises(FileNotFoundError, match="no ONNX model"):
        OnnxEmbedder(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        OnnxEmbedder(junk)
    plain = onnx.load(str(exported))
    del plain.metadata_props[:]
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    with pytest.raises(ValueError, match="not exported by siamkit"):
        OnnxEmbedder(tmp_path / "plain.onnx")
    with pytest.raises(ValueError, match="threads"):
        OnnxEmbedder(exported, threads=0)
    with pytest.raises(ValueError, match="not available"):
        OnnxEmbedder(exported, providers=["NoSuchExecutionProvider"])
    with pytest.raises(ValueError, match="precision"):
        runtime.resolve_onnx_path(bundle, precision="fp16")
