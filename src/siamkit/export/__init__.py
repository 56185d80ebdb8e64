"""Model files (safetensors + JSON) and edge exports (ONNX, int8, ONNX Runtime).

Imported lazily: :mod:`siamkit.export.runtime` (``OnnxEmbedder``) needs only numpy and
onnxruntime, so it runs on a device without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_NAMES = {
    "ModelFileError": "siamkit.export.bundle",
    "load_model": "siamkit.export.bundle",
    "save_model": "siamkit.export.bundle",
    "read_model_config": "siamkit.export.bundle",
    "model_fingerprint": "siamkit.models.fingerprint",
    "export_onnx": "siamkit.export.onnx",
    "ExportError": "siamkit.export.onnx",
    "OnnxExport": "siamkit.export.onnx",
    "quantize_onnx": "siamkit.export.quantize",
    "OnnxEmbedder": "siamkit.export.runtime",
    "OnnxModel": "siamkit.export.onnx_model",
    "load_onnx_model": "siamkit.export.onnx_model",
}

if TYPE_CHECKING:
    from siamkit.export.bundle import ModelFileError, load_model, read_model_config, save_model
    from siamkit.export.onnx import ExportError, OnnxExport, export_onnx
    from siamkit.export.onnx_model import OnnxModel, load_onnx_model
    from siamkit.export.quantize import quantize_onnx
    from siamkit.export.runtime import OnnxEmbedder
    from siamkit.models.fingerprint import model_fingerprint


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'siamkit.export' has no attribute {name!r}")


__all__ = [
    "ExportError",
    "ModelFileError",
    "OnnxEmbedder",
    "OnnxExport",
    "OnnxModel",
    "export_onnx",
    "load_model",
    "load_onnx_model",
    "model_fingerprint",
    "quantize_onnx",
    "read_model_config",
    "save_model",
]
