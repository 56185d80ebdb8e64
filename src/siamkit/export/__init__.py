"""Model files (safetensors + JSON) and edge exports."""

from siamkit.export.bundle import (
    ModelFileError,
    load_model,
    model_fingerprint,
    read_model_config,
    save_model,
)

__all__ = ["ModelFileError", "load_model", "model_fingerprint", "read_model_config", "save_model"]
