"""siamkit: similarity learning with Siamese networks.

>>> import siamkit
>>> enc = siamkit.encoders.create_encoder("convnet", in_channels=1)
>>> net = siamkit.SiameseNetwork(enc, embedding_dim=64)

Where things are, for a training loop of your own (README, "The library in a few lines"):

- ``siamkit.encoders.create_encoder``, ``siamkit.SiameseNetwork`` / ``HalfTwinNetwork``:
  ``net.embed(x)`` -> ``(N, D)``, ``net(a, b)`` -> ``(N,)`` distances (smaller = more similar).
- ``siamkit.losses``: functions (``triplet_margin_loss(d_ap, d_an)``) and modules called as
  ``loss(embeddings, labels, indices=None)``; ``siamkit.miners``: ``mine_triplets`` and miners
  called as ``miner(embeddings, labels)`` -> indices for a loss.
- ``siamkit.data``: ``load_fashion_mnist``, ``PKSampler`` (P classes x K items a batch).
- ``siamkit.evaluation``: ``evaluate_embeddings`` (verification, N-way K-shot, retrieval),
  ``few_shot_episodes``, ``calibrate_threshold``.
- ``siamkit.index.Gallery``: enroll, identify (1:N) and verify (1:1) against a gallery file.
- ``siamkit.save_model`` / ``siamkit.load_model``: a folder of safetensors and JSON;
  ``load_model(path, expect=siamkit.SiameseNetwork)`` is typed as that class and refuses another.
- ``siamkit.experiment.run_experiment`` and ``siamkit.training.Trainer``: a whole run.

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
