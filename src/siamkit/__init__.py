"""siamkit: similarity learning with Siamese networks.

>>> import siamkit
>>> enc = siamkit.encoders.create_encoder("convnet", in_channels=1)
>>> net = siamkit.SiameseNetwork(enc, embedding_dim=64)

Names are imported lazily (PEP 562), so ``import siamkit.export.runtime`` works on a device that
has ONNX Runtime and numpy but no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from siamkit._version import __version__

_SUBMODULES = {
    "applications",
    "data",
    "distances",
    "encoders",
    "evaluation",
    "experiment",
    "export",
    "heads",
    "index",
    "losses",
    "miners",
    "models",
    "training",
    "tuning",
    "types",
}
_NAMES = {
    "SiameseNetwork": "siamkit.models",
    "HalfTwinNetwork": "siamkit.models",
    "JoinedEmbedding": "siamkit.models",
    "Preprocess": "siamkit.models",
    "model_fingerprint": "siamkit.models",
    "save_model": "siamkit.export.bundle",
    "load_model": "siamkit.export.bundle",
    "ModelFileError": "siamkit.export.bundle",
}

if TYPE_CHECKING:
    from siamkit import (
        applications,
        data,
        distances,
        encoders,
        evaluation,
        experiment,
        export,
        heads,
        index,
        losses,
        miners,
        models,
        training,
        tuning,
    )
    from siamkit.export.bundle import ModelFileError, load_model, save_model
    from siamkit.models import (
        HalfTwinNetwork,
        JoinedEmbedding,
        Preprocess,
        SiameseNetwork,
        model_fingerprint,
    )


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"siamkit.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'siamkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*_SUBMODULES, *_NAMES, "__version__"])


__all__ = [
    "HalfTwinNetwork",
    "JoinedEmbedding",
    "ModelFileError",
    "Preprocess",
    "SiameseNetwork",
    "__version__",
    "applications",
    "data",
    "distances",
    "encoders",
    "evaluation",
    "experiment",
    "export",
    "heads",
    "index",
    "load_model",
    "losses",
    "miners",
    "model_fingerprint",
    "models",
    "save_model",
    "training",
    "tuning",
]
