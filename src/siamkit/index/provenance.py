"""Which model made a gallery: the meta a gallery stores, and the check that refuses another model."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from siamkit._version import __version__
from siamkit.distances import Distance, get_distance
from siamkit.index.embedding import model_distance, model_embedding_dim
from siamkit.index.results import GalleryMismatchError
from siamkit.models.fingerprint import model_fingerprint

NO_MODEL = "none"
"""Fingerprint of a gallery created from raw embeddings, without a model."""


def wanted_meta(
    model: Any, dim: int | None, distance: str | Distance | None
) -> dict[str, str] | None:
    """The meta a gallery made by this model (or these raw-embedding settings) must have."""
    if model is not None:
        dim, name = model_embedding_dim(model), model_distance(model).name
        fingerprint = model_fingerprint(model)
    elif dim is not None:
        name, fingerprint = get_distance(distance or "euclidean").name, NO_MODEL
    else:
        return None
    return {
        "embedding_dim": str(int(dim)),
        "distance": name,
        "model_fingerprint": fingerprint,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "siamkit_version": __version__,
    }


def check_same_model(
    path: str | Path, meta: Mapping[str, str], wanted: Mapping[str, str] | None
) -> None:
    """Raise :class:`GalleryMismatchError` unless ``meta`` was made by the wanted model."""
    if wanted is None:
        return
    if meta["embedding_dim"] != wanted["embedding_dim"]:
        raise GalleryMismatchError(
            f"{path} holds {meta['embedding_dim']}-d embeddings but this model makes "
            f"{wanted['embedding_dim']}-d ones; use the model that built the gallery or a new gallery file"
        )
    if (
        meta["model_fingerprint"] != wanted["model_fingerprint"]
        or meta["distance"] != wanted["distance"]
    ):
        raise GalleryMismatchError(
            f"{path} was built by a different model (fingerprint {meta['model_fingerprint'][:12]}, "
            f"distance {meta['distance']}) than this one ({wanted['model_fingerprint'][:12]}, "
            f"{wanted['distance']}); its embeddings are not comparable. Use the original model "
            "or enroll into a new gallery file"
        )
