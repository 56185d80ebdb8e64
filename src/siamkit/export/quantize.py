"""int8 quantisation of an exported model with ONNX Runtime's quantisation tools.

Two modes:

- ``"static"`` (the default): weights int8 per output channel, activations uint8 with ranges
  calibrated on a few hundred training images, QDQ format, which ONNX Runtime fuses into integer
  convolutions (``QLinearConv``). On x86 CPUs this is the fast one (about 2× the fp32 export).
- ``"dynamic"``: weights int8, activation ranges computed per batch at run time; no calibration
  data, but convolutions become ``ConvInteger`` that ONNX Runtime's CPU kernels run *slower*
  than fp32 — it only pays off for Linear/MatMul-heavy models. One range per batch tensor means
  an image's embedding depends slightly on the other images in its batch (static mode's fixed
  ranges do not; the text export rewrites its graph to per-token ranges for the same reason).

The L2 normalisation at the end of the graph stays in float in both modes, so embeddings keep
unit length. The quantised file carries the fp32 file's metadata plus ``precision="int8"`` and
``int8_mode``; a half-twin's branch f graph names its branch g graph's int8 file
(``model.document.int8.onnx``), which the export quantises beside it.

Example:
    >>> quantize_onnx("out/model/model.onnx", calibration=images).path  # doctest: +SKIP
    PosixPath('out/model/model.int8.onnx')
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from siamkit.atomic import remove_stale_temp_folders
from siamkit.clauses import counted
from siamkit.export.onnx import INPUT_NAME, ONNX_FILE, OnnxExport, import_onnx, quiet_logger
from siamkit.export.runtime import INT8_FILE, import_onnxruntime, parse_metadata
from siamkit.export.sidecar import read_sidecar, record_export, write_model_atomically
from siamkit.progress import progress, step

__all__ = ["DEFAULT_INT8_MODE", "INT8_MODES", "import_quantizer", "int8_path", "quantize_onnx"]

INT8_MODES = ("static", "dynamic")
DEFAULT_INT8_MODE = "static"
_QUANTIZED_OPS = ["Conv", "Gemm", "MatMul", "MaxPool", "GlobalAveragePool"]


def import_quantizer() -> Any:
    """Import ONNX Runtime's quantisation tools (``onnxruntime.quantization``), or raise an
    ``ImportError`` that says how to get them: before an export writes anything, so a missing
    quantiser does not leave an fp32 file that a second try would need ``--force`` to replace."""
    import_onnx()
    import_onnxruntime()
    try:
        from onnxruntime import quantization
        from onnxruntime.quantization import shape_inference  # noqa: F401 (quantize_onnx's)
    except ImportError as err:
        raise ImportError(
            f"int8 needs ONNX Runtime's quantisation tools, which do not import here ({err}); "
            "pip install 'siamkit[onnx]' (the full onnxruntime package), or export without int8"
        ) from err
    return quantization


class _Calibration:
    """``onnxruntime.quantization.CalibrationDataReader`` over an ``(N, ...)`` float array."""

    def __init__(self, images: np.ndarray, input_name: str, batch_size: int = 32) -> None:
        self._batches: Iterator[dict[str, np.ndarray]] = iter(
            {input_name: images[i : i + batch_size]} for i in range(0, len(images), batch_size)
        )
        self._bar = progress(len(images), "int8 calibration", "images")

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        if batch is None:
            self._bar.close()
        else:
            self._bar.update(len(next(iter(batch.values()))))
        return batch

    def rewind(self) -> None:  # pragma: no cover - only called by some calibrators
        raise NotImplementedError


def int8_path(fp32: str | os.PathLike[str]) -> Path:
    """Where the int8 file of an fp32 export goes by default: next to it, ``X.int8.onnx`` for
    ``X.onnx`` (the suffix in any case, kept as given: ``X.int8.ONNX`` for ``X.ONNX``).

    >>> int8_path("edge/shoes.ONNX").name
    'shoes.int8.ONNX'
    """
    path = Path(fp32)
    if path.name == ONNX_FILE:
        return path.with_name(INT8_FILE)
    if path.suffix.lower() == ".onnx":
        return path.with_name(f"{path.stem}.int8{path.suffix}")
    return path.with_name(path.name + ".int8.onnx")


def _float_tail(proto: Any) -> list[str]:
    """Names of the nodes after the last Gemm/MatMul (the L2 normalisation): kept in float."""
    nodes = list(proto.graph.node)
    last = max((i for i, n in enumerate(nodes) if n.op_type in ("Gemm", "MatMul")), default=None)
    return [] if last is None else [n.name for n in nodes[last + 1 :] if n.name]


def _check_calibration(calibration: Any, input_shape: tuple[int, ...]) -> np.ndarray:
    if calibration is None:
        raise ValueError(
            "static int8 quantisation needs calibration images (a few hundred training images, "
            "(N, C, H, W) floats in [0, 1]); pass calibration=... or use mode='dynamic'"
        )
    arr = np.ascontiguousarray(np.asarray(calibration), dtype=np.float32)
    if arr.ndim != len(input_shape) + 1 or tuple(arr.shape[1:]) != input_shape or len(arr) == 0:
        raise ValueError(
            f"calibration images must be shaped (N, {', '.join(map(str, input_shape))}) with N > 0, "
            f"got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError("the calibration images contain NaN or infinite values")
    return arr


def _run_quantizer(
    pre: Path, dest: Path, mode: str, calib: np.ndarray | None, per_channel: bool
) -> None:
    onnx = import_onnx()
    from onnxruntime import quantization as q

    exclude = _float_tail(onnx.load(str(pre)))
    if mode == "dynamic":
        q.quantize_dynamic(str(pre), str(dest), per_channel=per_channel, weight_type=q.QuantType.QInt8,
                           nodes_to_exclude=exclude)  # fmt: skip
        return
    q.quantize_static(
        str(pre),
        str(dest),
        _Calibration(calib, INPUT_NAME),  # type: ignore[arg-type]
        quant_format=q.QuantFormat.QDQ,
        op_types_to_quantize=_QUANTIZED_OPS,
        per_channel=per_channel,
        activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        nodes_to_exclude=exclude,
        calibrate_method=q.CalibrationMethod.MinMax,
    )


def quantize_onnx(
    fp32_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str] | None = None,
    mode: str = DEFAULT_INT8_MODE,
    calibration: Any = None,
    per_channel: bool = True,
    calibration_source: str | None = None,
) -> OnnxExport:
    """Quantise an fp32 siamkit export to int8.

    Args:
        fp32_path: a ``.onnx`` file written by :func:`siamkit.export.onnx.export_onnx`.
        out_path: default ``model.int8.onnx`` next to ``model.onnx`` (``X.int8.onnx`` for ``X.onnx``).
        mode: ``"static"`` (calibrated, fast on CPU) or ``"dynamic"`` (no calibration data).
        calibration: for static mode, ``(N, C, H, W)`` floats in ``[0, 1]`` (a few hundred
            training images); see :func:`siamkit.export.calibration.calibration_images`.
        per_channel: one weight scale per output channel (more accurate).
        calibration_source: free text recorded in ``onnx.json`` (e.g. ``"fashion-mnist"``).

    Returns:
        :class:`~siamkit.export.onnx.OnnxExport`; ``max_abs_diff`` is ``None`` (int8 differs from
        fp32 by design — measure accuracy instead).

    >>> quantize_onnx("out/model/model.onnx", mode="dynamic").path.name  # doctest: +SKIP
    'model.int8.onnx'
    """
    if mode not in INT8_MODES:
        raise ValueError(f"int8 mode is one of {', '.join(INT8_MODES)}, got {mode!r}")
    onnx = import_onnx()
    import_quantizer()
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src = Path(fp32_path)
    if not src.is_file():
        raise FileNotFoundError(f"no ONNX model at {src}; export it first with `siamkit export`")
    meta = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    info = parse_metadata(meta, str(src))
    if info.precision != "fp32":
        raise ValueError(f"{src} is already quantised ({info.precision}); quantise the fp32 export")
    calib = _check_calibration(calibration, info.input_shape) if mode == "static" else None
    dest = Path(out_path) if out_path is not None else int8_path(src)
    dest.parent.mkdir(parents=True, exist_ok=True)  # as export_onnx: its temporary folder is there
    remove_stale_temp_folders(dest.parent, ".quantize")  # of quantisations killed with kill -9
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".quantize") as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        how = (
            "dynamic" if calib is None else f"static, calibrated on {counted(len(calib), 'image')}"
        )
        step(f"quantising {src.name} to int8 ({how})")
        with quiet_logger():  # the quantiser's pre-processing warning per model
            try:
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            except Exception:  # pre-processing is an optimisation; quantise the original instead
                pre = src
            _run_quantizer(pre, out, mode, calib, per_channel)
        proto = onnx.load(str(out))
        meta_out = {**meta, "precision": "int8", "int8_mode": mode}
        if info.document_graph:  # a half-twin's branch f: its g graph's int8 file, beside it
            meta_out["document_graph"] = int8_path(info.document_graph).name
        onnx.helper.set_model_props(proto, meta_out)
        step(f"writing {dest}")
        write_model_atomically(onnx, proto, dest)
    if (
        dest.parent.resolve() == src.parent.resolve()
        and src.name in read_sidecar(src.parent)["exports"]
    ):
        record = {
            "precision": "int8",
            "int8_mode": mode,
            "per_channel": per_channel,
            "source": src.name,
        }
        if calib is not None:
            record["calibration"] = {"images": len(calib), "source": calibration_source}
        with contextlib.suppress(OSError):
            record_export(dest, record, meta_out)
    return OnnxExport(dest, meta_out, None, dest.stat().st_size)
