"""The int8 text graph quantises activations row by row (issue 16): a token's int8 values, and so a
text's embedding, do not depend on the other texts of its batch or on padding. Checked on a small
``MatMul + Add`` graph against a numpy reference of per-row quantisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxruntime.quantization")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from siamkit.applications.text.quantize import quantize_int8, rowwise_activations  # noqa: E402

K, OUT = 24, 16


def _linear(folder: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """``y = x @ W + b`` with ``x`` ``(N, L, K)`` float, as an opset-17 ONNX file."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(K, OUT)).astype(np.float32)
    b = rng.normal(size=OUT).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "l", K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "l", OUT])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    # IR 8 is opset 17's: make_model would write the installed onnx's newest IR, which an older
    # ONNX Runtime refuses (onnx 1.23 beside ONNX Runtime 1.30: "Unsupported model IR version: 14")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = folder / "linear.onnx"
    onnx.save(model, str(path))
    return path, w, b


def _int8_weights(path: Path) -> np.ndarray:
    """The int8 file's weights as floats (per-channel scales): ONNX Runtime's weight rounding is
    not what these tests check, the activations' is."""
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    (wq,) = [v for k, v in inits.items() if k.endswith("_quantized")]
    (ws,) = [v for k, v in inits.items() if k.endswith("_scale") and v.shape == (OUT,)]
    (wz,) = [v for k, v in inits.items() if k.endswith("_zero_point") and v.shape == (OUT,)]
    return (wq.astype(np.float64) - wz) * ws


def _reference(x: np.ndarray, w: np.ndarray, b: np.ndarray, symmetric: bool) -> np.ndarray:
    """Per-row quantisation of ``x``, one token at a time (naive loop), then ``x_q @ w + b``."""
    out = np.empty((*x.shape[:-1], OUT))
    for idx in np.ndindex(*x.shape[:-1]):
        row = x[idx].astype(np.float64)
        if symmetric:
            s = max(np.abs(row).max() / 127, 1e-30)
            z = 128.0
        else:
            lo, hi = min(row.min(), 0.0), max(row.max(), 0.0)
            s = max((hi - lo) / 255, 1e-30)
            z = np.round(-lo / s)
        q = np.clip(np.rint(row / s) + z, 0, 255)
        out[idx] = (s * (q - z)) @ w + b
    return out


def _batch(rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(size=(3, 5, K)).astype(np.float32)
    x[0, 1] += 2.0  # a row whose range is not symmetric around 0
    x[1] *= 60.0  # a batch-mate with far larger values: one tensor-wide scale would follow it
    x[2, 3:] = 0.0  # rows of zeros, as padded positions could be
    return x


@pytest.mark.parametrize("symmetric", [False, True])
def test_rows_match_a_numpy_reference_of_per_row_quantisation(tmp_path, symmetric) -> None:
    fp32, w, b = _linear(tmp_path)
    int8 = tmp_path / "linear.int8.onnx"
    quantize_int8(fp32, int8, per_row=False)
    model = onnx.load(str(int8))
    assert rowwise_activations(model, symmetric=symmetric) == 1
    onnx.checker.check_model(model)
    onnx.save(model, str(int8))
    x = _batch(np.random.default_rng(1))
    got = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    want = _reference(x, _int8_weights(int8), b, symmetric)
    assert np.abs(got - want).max() < 1e-4 * np.abs(want).max()
    assert np.array_equal(got[2, 3:], np.broadcast_to(b, (2, OUT)))  # zero rows give the bias
    # and the quantisation error stays that of 8 bits, against the float graph
    exact = x.astype(np.float64) @ w + b
    assert np.abs(got - exact).max() < 0.05 * np.abs(exact).max()


def test_a_row_gives_the_same_output_whatever_its_batch_mates(tmp_path) -> None:
    """The export's default: fails with one scale per tensor (``per_row=False``), where the
    large batch-mate coarsens every other row's int8 values."""
    fp32, _, _ = _linear(tmp_path)
    int8 = tmp_path / "linear.int8.onnx"
    quantize_int8(fp32, int8)
    run = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"]).run
    x = _batch(np.random.default_rng(2))
    together = run(None, {"x": x})[0]
    for i in range(len(x)):
        alone = run(None, {"x": x[i : i + 1]})[0][0]
        assert np.array_equal(alone, together[i])
    shorter = run(None, {"x": x[:1, :2]})[0][0]  # fewer positions: another padding width
    assert np.array_equal(shorter, together[0, :2])


def test_a_graph_of_another_layout_is_refused(tmp_path) -> None:
    """``DynamicQuantizeLinear`` feeding something other than ``MatMulInteger``: one sentence,
    the model left as it was."""
    graph = helper.make_graph(
        [
            helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]),
            helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"]),
        ],
        "dq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, K])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    before = model.SerializeToString()
    with pytest.raises(ValueError, match="should feed MatMulInteger nodes only"):
        rowwise_activations(model)
    assert model.SerializeToString() == before


def test_an_export_made_before_per_token_int8_is_run_with_a_warning(tiny_hf, tmp_path) -> None:
    import json
    import warnings

    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.applications.text.onnx import META_NAME, TextOnnxEmbedder
    from siamkit.applications.text.onnx_export import export_text_onnx

    folder = export_text_onnx(TextSiameseNetwork.pretrained(tiny_hf), tmp_path / "edge", int8=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextOnnxEmbedder(folder, int8=True)
        TextOnnxEmbedder(folder)
    meta = json.loads((folder / META_NAME).read_text())
    assert meta.pop("int8_activations") == "per-token"
    (folder / META_NAME).write_text(json.dumps(meta))  # as an export before the fix wrote it
    with pytest.warns(UserWarning, match="export the model again with `siamkit export <model"):
        TextOnnxEmbedder(folder, int8=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextOnnxEmbedder(folder)  # the fp32 graph never depended on the batch


def test_the_onnx_runtime_names_the_command_that_exports_its_model_again(tiny_hf, tmp_path) -> None:
    # an export before per-token int8 was told to run `siamkit export MODEL ... --force` (the
    # literal word MODEL, no --out), one without int8 `siamkit text export --out DIR --int8`
    # (no --model: that exports the default model, then refused as another model's)
    import json

    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.applications.text.onnx import META_NAME, TextOnnxEmbedder
    from siamkit.applications.text.onnx_export import export_text_onnx

    model = TextSiameseNetwork.pretrained(tiny_hf)
    old = export_text_onnx(model, tmp_path / "old", int8=True)
    meta = json.loads((old / META_NAME).read_text())
    del meta["int8_activations"]  # as an export before per-token int8 wrote it
    (old / META_NAME).write_text(json.dumps(meta))
    fp32 = export_text_onnx(model, tmp_path / "fp32")
    holder = (
        "`siamkit export <model folder> --format onnx --int8 --out {} --force` (a saved siamkit "
        "model) or `siamkit text export --model <model folder> --out {} --int8 --force`, "
        "<model folder> being the folder of the model this export is for"
    )
    hf = f"`siamkit text export --model {tiny_hf} --out {{}} --int8 --force`"
    default = "`siamkit text export --out {} --int8 --force` (it exports the default model)"
    for kwargs, want in (
        ({}, holder),
        ({"model_path": tiny_hf}, hf),
        ({"default_model": True}, default),
    ):
        with pytest.warns(UserWarning) as record:
            TextOnnxEmbedder(old, int8=True, **kwargs)
        msg = str(record[0].message)
        assert msg.endswith(f"export the model again with {want.format(old, old)}"), msg
        with pytest.raises(ValueError) as err:
            TextOnnxEmbedder(fp32, int8=True, **kwargs)
        assert str(err.value) == (
            f"{fp32} has no text.int8.onnx; export it with export_text_onnx(model, "
            f"{str(fp32)!r}, int8=True) or {want.format(fp32, fp32)}"
        )
