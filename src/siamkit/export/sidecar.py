"""``onnx.json``: the record of a model folder's ONNX exports, beside ``siamkit.json``.

``siamkit.json`` stays as :func:`siamkit.save_model` wrote it; this sidecar lists each export
(file name, precision, int8 mode and calibration, opset, exporter, SHA-256, size) and the
preprocessing and input/output layout, so an ONNX-only consumer can check and use the files
without torch. It is tied to the model's fingerprint: exports of an older model are dropped.

Example:
    >>> read_sidecar("runs/shoes/model")["exports"]["model.onnx"]["precision"]  # doctest: +SKIP
    'fp32'
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from siamkit._version import __version__
from siamkit.atomic import atomic_path, atomic_write, sha256_file

__all__ = [
    "SIDECAR_FILE",
    "TEXT_DIGESTS_KEY",
    "TEXT_EXPORT_DIR",
    "TEXT_EXPORT_META",
    "TEXT_EXPORT_NAMES",
    "TEXT_INT8_NAME",
    "entry_digest",
    "forget_export",
    "read_sidecar",
    "record_export",
    "sha256_file",
    "write_model_atomically",
]

SIDECAR_FILE = "onnx.json"

TEXT_EXPORT_META = "text_onnx.json"
"""What a text model's ONNX export folder holds beside its graphs and tokenizer/ (``siamkit text
export``, MODEL/onnx), instead of onnx.json: its one definition, here without torch so that the
text application's torch-free runtime and the bundle's refusal of an export both read it."""


#: The key of :data:`TEXT_EXPORT_META` that records the SHA-256 of each file and folder the
#: export wrote (:func:`entry_digest`, by name), as ``onnx.json`` records an image export's: a
#: removal of the export takes only those still as written, and keeps a file of the user's put
#: at one of their names. Older exports lack it: their files are removed by their names.
TEXT_DIGESTS_KEY = "files_sha256"


#: Where ``siamkit export MODEL`` of a text model writes its export (MODEL/onnx), and its int8
#: graph's name there: their one definition, here without torch so that the bundle (below the
#: applications) names the command that writes a removed text export again.
TEXT_EXPORT_DIR, TEXT_INT8_NAME = "onnx", "text.int8.onnx"


#: What a text model's ONNX export folder writes of its own (its graphs, int8 or not, a
#: half-twin's document graphs, :data:`TEXT_EXPORT_META`, ``tokenizer/``, a lexical or stacked
#: tower's files): the text application's ``EXPORT_NAMES``, which a test holds equal to this,
#: here without torch so that a model folder's replacement (:func:`siamkit.save_model`, below the
#: applications) tells them from a user's files in its MODEL/onnx.
TEXT_EXPORT_NAMES = frozenset(
    {
        "text.onnx", "text.int8.onnx", "text.document.onnx", "text.document.int8.onnx",
        TEXT_EXPORT_META, "tokenizer", "lexical.json", "lexical.npz", "lexical_stacked.json",
        "lexical_stacked.npz",
    }
)  # fmt: skip


def entry_digest(path: Path) -> str | None:
    """SHA-256 of a file, or of a folder's files (each one's path within it and SHA-256, in
    path order); ``None`` for anything else (gone, a socket)."""
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        return None
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{file.relative_to(path).as_posix()}\0{sha256_file(file)}\n".encode())
    return h.hexdigest()


def write_model_atomically(onnx_mod: Any, proto: Any, dest: Path) -> None:
    """Save an ONNX ``ModelProto`` to ``dest`` via a temporary file and a rename."""
    with atomic_path(dest) as tmp:
        onnx_mod.save_model(proto, str(tmp))


def read_sidecar(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``onnx.json`` of a model folder (an empty record if there is none)."""
    path = Path(folder) / SIDECAR_FILE
    empty: dict[str, Any] = {"format": "siamkit-onnx-exports", "format_version": 1, "exports": {}}
    if not path.is_file():
        return empty
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return empty
    return doc if isinstance(doc, dict) and isinstance(doc.get("exports"), dict) else empty


def record_export(path: Path, info: dict[str, Any], meta: dict[str, str]) -> None:
    """Add ``path`` (an export inside a model folder) to the folder's ``onnx.json``, atomically."""
    folder = path.parent
    doc = read_sidecar(folder)
    stale = doc.get("fingerprint") != meta["fingerprint"]
    if stale:
        doc["exports"] = {}  # the model was replaced: older exports are stale
    doc["fingerprint"] = meta["fingerprint"]
    own = _branch_record(meta)
    doc["exports"][path.name] = {
        **info,
        **own,
        "siamkit_version": __version__,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
    }
    # the top level describes what is searched with: a half-twin's branch g graph keeps its
    # shape and preprocessing in its own entry (unless it is the model's first graph listed)
    if own.get("branch") != "g" or stale:
        _describe(doc, meta)
    atomic_write(folder / SIDECAR_FILE, json.dumps(doc, indent=2, sort_keys=True))


def forget_export(path: Path) -> None:
    """Drop ``path`` (an export removed from its model folder) from the folder's ``onnx.json``,
    atomically; nothing when it is not listed there."""
    doc = read_sidecar(path.parent)
    if doc["exports"].pop(path.name, None) is not None:
        atomic_write(path.parent / SIDECAR_FILE, json.dumps(doc, indent=2, sort_keys=True))


def _branch_record(meta: dict[str, str]) -> dict[str, Any]:
    """A half-twin graph's branch, input shape and preprocessing, for its own ``exports`` entry
    (its two branches take inputs of their own sizes); ``{}`` for other models."""
    if meta.get("model_kind") != "half_twin":
        return {}
    return {
        "branch": meta.get("branch") or "f",
        "input_shape": json.loads(meta["input_shape"]),
        "preprocess": json.loads(meta["preprocess"]),
    }


def _describe(doc: dict[str, Any], meta: dict[str, str]) -> None:
    """Set ``doc``'s top level (size, distance, threshold, input and output) from ``meta``."""
    doc.update(fingerprint=meta["fingerprint"], embedding_dim=json.loads(meta["embedding_dim"]),
               distance=meta["distance"], threshold=json.loads(meta["threshold"]),
               preprocess=json.loads(meta["preprocess"]) | {"input_shape": json.loads(meta["input_shape"])},
               input=json.loads(meta["input"]) | {"shape": ["N", *json.loads(meta["input_shape"])]},
               output=json.loads(meta["output"]) | {"shape": ["N", json.loads(meta["embedding_dim"])]})  # fmt: skip
