"""Safe model files: one folder with ``model.safetensors`` and ``siamkit.json``. No pickle.

``siamkit.json`` holds the format version, the siamkit version, the architecture (encoder name
and arguments, head, distance, preprocessing), the calibrated threshold and the SHA-256 of the
weights file, so a tampered or truncated file is refused before anything is built from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from siamkit._version import __version__
from siamkit.models import (
    HalfTwinNetwork,
    SiameseNetwork,
    is_model,
    model_class,
    model_fingerprint,
    model_kinds,
)

FORMAT = "siamkit-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "siamkit.json"

Model = SiameseNetwork | HalfTwinNetwork


class ModelFileError(ValueError):
    """A model folder that is missing, corrupted, tampered with, or from a newer siamkit."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model(
    model: Model,
    path: str | os.PathLike[str],
    threshold: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to the folder ``path`` (replaced atomically if it exists).

    Args:
        model: a :class:`SiameseNetwork`, :class:`HalfTwinNetwork` or another registered kind
            (:func:`siamkit.models.register_model_kind`).
        threshold: calibrated distance threshold; defaults to ``model.threshold``.
        metadata: JSON-serialisable extras (training data, metrics, ...).

    >>> save_model(net, "out/model")  # doctest: +SKIP
    """
    if not is_model(model):
        raise TypeError(
            f"save_model takes a model of a registered kind ({', '.join(model_kinds())}), "
            f"got {type(model).__name__}"
        )
    threshold = model.threshold if threshold is None else float(threshold)
    config = model.config()
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a model folder gets the usual permissions
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, str(tmp / WEIGHTS_FILE))
        if callable(extra := getattr(model, "save_extra_files", None)):
            extra(tmp)  # files a kind needs beside its weights (a text model's tokenizer)
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "siamkit_version": __version__,
            "model": config,
            "embedding_dim": model.embedding_dim,
            "distance": model.distance_name,
            "threshold": threshold,
            "weights_sha256": _sha256(tmp / WEIGHTS_FILE),
            "fingerprint": model_fingerprint(model),
            "metadata": metadata or {},
        }
        (tmp / CONFIG_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True))
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    model.threshold = threshold
    return dest


def read_model_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate ``siamkit.json`` of a model folder, without building the model."""
    folder = Path(path)
    cfg_path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ModelFileError(
            f"{folder} is not a model folder (expected a directory with {CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    if not cfg_path.is_file():
        raise ModelFileError(f"{folder} has no {CONFIG_FILE}; is it a siamkit model folder?")
    try:
        doc = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(
            f"{cfg_path} is not valid JSON ({err}); the file is corrupted"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{cfg_path} is not a siamkit model description")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{folder} was written in model format {version!r} by siamkit {doc.get('siamkit_version')}; this siamkit "
            f"({__version__}) reads format {FORMAT_VERSION} or older — upgrade siamkit"
        )
    if doc.get("model", {}).get("kind") not in model_kinds():
        raise ModelFileError(
            f"{cfg_path} names an unknown model kind {doc.get('model', {}).get('kind')!r}"
        )
    return doc


def load_model(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Model:
    """Load a model folder written by :func:`save_model`, in eval mode. Never unpickles anything.

    >>> net = load_model("out/model")  # doctest: +SKIP
    """
    doc = read_model_config(path)
    weights = Path(path) / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"{Path(path)} has no {WEIGHTS_FILE}")
    if _sha256(weights) != doc.get("weights_sha256"):
        raise ModelFileError(
            f"{weights} does not match the checksum in {CONFIG_FILE}: it is truncated or was modified"
        )
    try:
        state = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError) as err:
        raise ModelFileError(f"{weights} cannot be read: {err}") from None
    try:
        cls = model_class(doc["model"]["kind"])
        rebuild = getattr(cls, "from_bundle", None)  # kinds that read extra files of the folder
        model = rebuild(doc["model"], Path(path)) if rebuild else cls.from_config(doc["model"])
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ModelFileError(
            f"{Path(path)} describes a model that cannot be rebuilt: {err}"
        ) from None
    model.threshold = doc.get("threshold")
    return model.to(map_location).eval()
