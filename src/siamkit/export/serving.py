"""Load a saved model for serving: the PyTorch bundle, or its ONNX Runtime export.

The web service, ``siamkit serve`` and ``benchmarks/bench_service.py`` all load the model to
serve through :func:`load_for_serving`, so the shells do not each decide what a runtime means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siamkit.clauses import listed

RUNTIMES = ("torch", "onnx", "onnx-int8")


def load_for_serving(
    model_dir: str | Path, runtime: str = "torch", threads: int | None = None
) -> Any:
    """The model to serve (same ``embed`` contract either way).

    Args:
        model_dir: a saved model folder (``siamkit train`` / ``save_model``).
        runtime: ``"torch"`` (the bundle), ``"onnx"`` or ``"onnx-int8"`` (its fp32 or int8
            export, ``siamkit export MODEL --format onnx [--int8]``; a text model's export is
            the folder ``MODEL/onnx`` with its tokenizer).
        threads: ONNX Runtime intra-op threads (``None`` = its default).

    Raises:
        ValueError: an unknown runtime, ONNX Runtime not installed, or no export of this very
            model (a text export from another model is refused by its fingerprint); the
            message says what to do.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    if runtime == "torch":
        from siamkit.export.bundle import load_model

        return load_model(model_dir)
    try:
        from siamkit.export.onnx_model import OnnxModel
    except ImportError as err:
        raise ValueError(
            f"--runtime {runtime} is not available: {err}. Install it with pip install "
            "'siamkit[onnx]' and export the model first (siamkit export MODEL --format onnx)."
        ) from None
    int8 = runtime == "onnx-int8"
    from siamkit.export.bundle import recover_model_folder

    recover_model_folder(model_dir)  # a save killed past its renames left the export in .M.old
    _refuse_export_without_config(Path(model_dir), runtime)
    load_folder = _onnx_folder_loader(model_dir)
    if load_folder is not None:  # a text model: encoder graphs + tokenizer in MODEL/onnx
        return load_folder(model_dir, int8=int8, threads=threads)
    model = OnnxModel(str(model_dir), threads=threads, precision="int8" if int8 else "fp32")
    _use_folder_threshold(model, model_dir)
    return model


def _refuse_export_without_config(folder: Path, runtime: str) -> None:
    """An image export copied without the model's ``siamkit.json`` (a device's folder): say to
    copy it too, rather than that the folder is not a model folder at all."""
    from siamkit.export.bundle import CONFIG_FILE
    from siamkit.export.runtime import INT8_FILE, ONNX_FILE

    if (folder / CONFIG_FILE).is_file():
        return
    exports = [name for name in (ONNX_FILE, INT8_FILE) if (folder / name).is_file()]
    if exports:
        raise ValueError(
            f"{folder} holds {listed(exports)} but not {CONFIG_FILE}, the model's kind and "
            f"threshold that --runtime {runtime} serves with: copy {CONFIG_FILE} from the model "
            "folder it was exported from beside it, or give that folder"
        )


def _use_folder_threshold(model: Any, model_dir: str | Path) -> None:
    """Decide with the model folder's threshold, not the one copied into the ONNX file when it
    was exported: the graph does not depend on the threshold, and an export of another one
    (``siamkit calibrate`` removes the one it makes stale, but a copy put back, or a threshold
    rewritten in ``siamkit.json`` by hand, stays) is served with the folder's. An export of
    another model (its fingerprint differs) is refused."""
    from siamkit.export.bundle import read_model_config

    doc = read_model_config(model_dir)
    if doc.get("fingerprint") and model.fingerprint and doc["fingerprint"] != model.fingerprint:
        raise ValueError(
            f"the ONNX export in {model_dir} was made from another model than "
            f"{Path(model_dir) / 'siamkit.json'}; export it again with `siamkit export "
            f"{model_dir} --format onnx --force`"
        )
    threshold = doc.get("threshold")
    model.threshold = None if threshold is None else float(threshold)


def _onnx_folder_loader(model_dir: str | Path) -> Any:
    """The loader of the model's kind when it exports a folder (a text model: encoder +
    tokenizer), or None when it exports one model.onnx (the kind registry says which, so this
    layer does not import the applications)."""
    from siamkit.export.bundle import read_model_config
    from siamkit.models.kinds import onnx_folder_loader

    return onnx_folder_loader(read_model_config(model_dir)["model"]["kind"])
