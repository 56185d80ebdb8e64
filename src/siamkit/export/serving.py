"""Load a saved model for serving: the PyTorch bundle, or its ONNX Runtime export.

The web service, ``siamkit serve`` and ``benchmarks/bench_service.py`` all load the model to
serve through :func:`load_for_serving`, so the shells do not each decide what a runtime means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

RUNTIMES = ("torch", "onnx")


def load_for_serving(
    model_dir: str | Path, runtime: str = "torch", threads: int | None = None
) -> Any:
    """The model to serve (same ``embed`` contract either way).

    Args:
        model_dir: a saved model folder (``siamkit train`` / ``save_model``).
        runtime: ``"torch"`` (the bundle) or ``"onnx"`` (its export, ``siamkit export --format onnx``).
        threads: ONNX Runtime intra-op threads (``None`` = its default).

    Raises:
        ValueError: an unknown runtime, ONNX Runtime not installed, or a kind whose export is a
            folder of graphs (text) rather than one ``model.onnx``; the message says what to do.
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
            f"--runtime onnx is not available: {err}. Install it with pip install "
            "'siamkit[onnx]' and export the model first (siamkit export MODEL --format onnx)."
        ) from None
    _refuse_folder_exports(model_dir)
    return OnnxModel(str(model_dir), threads=threads)


def _refuse_folder_exports(model_dir: str | Path) -> None:
    """A kind exported as a folder (a text model: encoder + tokenizer) has no model.onnx."""
    from siamkit.export.bundle import read_model_config
    from siamkit.models.kinds import onnx_folder_exporter

    kind = read_model_config(model_dir)["model"]["kind"]
    if onnx_folder_exporter(kind) is not None:
        raise ValueError(
            f"{model_dir} is a {kind} model: --runtime onnx serves image models only; serve it "
            "with --runtime torch (its ONNX export runs with "
            "siamkit.applications.text.onnx.TextOnnxEmbedder)"
        )
