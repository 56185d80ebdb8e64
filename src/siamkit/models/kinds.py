"""The registry of saved-model kinds: ``siamkit.json``'s ``model.kind`` -> the class that rebuilds it.

Built-in kinds are classes; application kinds (text, faces, tracking, ...) are registered as
``"module:Class"`` strings and imported only when a bundle of that kind is saved or loaded, so
``import siamkit`` stays light and importing an application has no registration side effect.

A kind's class provides ``config() -> dict``, ``from_config(dict)``, ``state_dict`` /
``load_state_dict``, ``distance_name`` and a settable ``threshold``, and is a
:class:`~siamkit.model_protocol.EmbeddingModel` (``embed``, ``embedding_dim``, ``distance``,
``input_shape``; tests/models/test_model_protocol.py checks every registered kind).

A kind whose edge export is more than one image graph (text: the encoder and its tokenizer) gives
its class ``export_onnx_folder(folder, int8=False, force=False)``, returning one row per graph
with ``precision``, ``path``, ``size_bytes``, ``max_abs_diff`` and ``min_cosine`` against
PyTorch; ``siamkit export`` dispatches to it (see :func:`onnx_folder_exporter`). Such a kind's
class also gives ``load_onnx_folder(model_dir, int8=False, threads=None)`` (a static method), the
model that embeds with that export, which ``siamkit serve --runtime onnx`` loads (see
:func:`onnx_folder_loader`).
"""

from __future__ import annotations

import sys
from typing import Any

from siamkit.models.half_twin import HalfTwinNetwork
from siamkit.models.joined import JoinedEmbedding
from siamkit.models.siamese import SiameseNetwork
from siamkit.registry import load_target

_KINDS: dict[str, Any] = {
    "siamese": SiameseNetwork,
    "half_twin": HalfTwinNetwork,
    "joined": JoinedEmbedding,
    "dlib_face": "siamkit.applications.faces.model:DlibFaceEncoder",
    "text": "siamkit.applications.text.model:TextSiameseNetwork",
    "siamfc": "siamkit.applications.tracking.model:SiamFCNet",
}


def register_model_kind(name: str, target: type | str, overwrite: bool = False) -> None:
    """Make ``load_model`` rebuild bundles whose ``model.kind`` is ``name``.

    Args:
        name: the kind written in ``siamkit.json``.
        target: the class, or ``"package.module:Class"`` imported on first use.
        overwrite: replace an existing registration.
    """
    if not name or not isinstance(name, str):
        raise ValueError("a model kind must be a non-empty string")
    if name in _KINDS and not overwrite:
        raise ValueError(f"a model kind named {name!r} is already registered")
    _KINDS[name] = target


def model_kinds() -> list[str]:
    """The registered kind names."""
    return sorted(_KINDS)


def model_class(name: str) -> type[Any]:
    """The class registered as ``name`` (imported now if it was given as a string)."""
    try:
        target = _KINDS[name]
    except KeyError:
        raise ValueError(
            f"unknown model kind {name!r}; known kinds: {', '.join(model_kinds())}"
        ) from None
    if isinstance(target, str):
        target = load_target(target)
        _KINDS[name] = target
    return target  # type: ignore[no-any-return]


def is_model(obj: object) -> bool:
    """Whether ``obj`` is an instance of a registered kind (only already-imported kinds count)."""
    for name, target in list(_KINDS.items()):
        if isinstance(target, str) and target.partition(":")[0] in sys.modules:
            target = model_class(name)  # a lazily registered kind whose module is loaded
        if isinstance(target, type) and isinstance(obj, target):
            return True
    return False


def onnx_folder_exporter(name: str) -> Any:
    """The kind's ``export_onnx_folder`` method (unbound), or None for kinds that export one
    image graph with :func:`siamkit.export.export_onnx`."""
    return getattr(model_class(name), "export_onnx_folder", None)


def onnx_folder_loader(name: str) -> Any:
    """The kind's ``load_onnx_folder(model_dir, int8, threads)``, or None for kinds that export one
    image graph (served by :class:`siamkit.export.onnx_model.OnnxModel`)."""
    return getattr(model_class(name), "load_onnx_folder", None)
