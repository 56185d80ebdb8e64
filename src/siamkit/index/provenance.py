"""Which model made a gallery: the meta a gallery stores, and the check that refuses another model."""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from siamkit._version import __version__
from siamkit.distances import Distance, get_distance
from siamkit.index.embedding import model_distance, model_embedding_dim, two_towers
from siamkit.index.results import GalleryMismatchError
from siamkit.models.fingerprint import model_fingerprint

NO_MODEL = "none"
"""Fingerprint of a gallery created from raw embeddings, without a model."""

ENROLLED_TOWER_KEY = "enrolled_tower"
"""Meta key of the tower a two-tower model (:func:`~siamkit.index.embedding.two_towers`)
enrolls with, ``"document"`` (a text half-twin's document tower, a ``HalfTwinNetwork``'s branch
g). A two-tower gallery without it was enrolled before siamkit recorded it, when enrollment
went through the query tower."""


MODEL_PATH_KEY = "model_path"
"""Meta key of the model folder that enrolls into a gallery, as an absolute path."""

MODEL_RELPATH_KEY = "model_path_relative"
"""Meta key of that folder relative to the gallery file's folder, which finds it again when the
two moved together (a moved, copied or cloned project); galleries recorded before it lack it."""


def model_path_meta(model_dir: str | Path, gallery_path: str | Path) -> dict[str, str]:
    """The meta recording where the model folder ``model_dir`` is: absolute, and relative to
    the folder of the gallery file ``gallery_path`` (left out where there is no such path,
    such as another drive on Windows, or an in-memory gallery).

    >>> model_path_meta("/proj/runs/model", "/proj/galleries/g.db")["model_path_relative"]
    '../runs/model'
    """
    folder = Path(model_dir).resolve()
    meta = {MODEL_PATH_KEY: str(folder)}
    if str(gallery_path) != ":memory:":
        with contextlib.suppress(ValueError):  # no relative path between them
            meta[MODEL_RELPATH_KEY] = os.path.relpath(folder, Path(gallery_path).resolve().parent)
    return meta


def recorded_model_folder(meta: Mapping[str, str], gallery_path: str | Path) -> str | None:
    """The model folder the meta of the gallery file ``gallery_path`` records: its absolute
    path while that is a folder, else the relative one from where the gallery is now when that
    is (gallery and model moved together), else the absolute one, gone (callers name it);
    ``None`` when none is recorded. The gallery's fingerprint check still decides whether the
    model found there may open it."""
    recorded = meta.get(MODEL_PATH_KEY)
    if recorded is None or Path(recorded).is_dir():
        return recorded
    relative = meta.get(MODEL_RELPATH_KEY)
    if relative:
        moved = (Path(gallery_path).resolve().parent / relative).resolve()
        if moved.is_dir():
            return str(moved)
    return recorded


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
    meta = {
        "embedding_dim": str(int(dim)),
        "distance": name,
        "model_fingerprint": fingerprint,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "siamkit_version": __version__,
    }
    if model is not None and two_towers(model):
        meta[ENROLLED_TOWER_KEY] = "document"
    return meta


def check_same_model(
    path: str | Path,
    meta: Mapping[str, str],
    wanted: Mapping[str, str] | None,
    model: Any = None,
) -> None:
    """Raise :class:`GalleryMismatchError` unless ``meta`` was made by the wanted model.

    ``model``: the model ``wanted`` describes. A kind whose fingerprint formula changed names
    the fingerprints it had before (``former_fingerprints()``, as that formula gives them
    today), which are accepted too; and it may add to the refusal what would open the gallery
    (``fingerprint_advice(recorded)``, a sentence or ``None``)."""
    if wanted is None:
        return
    if (
        model is not None
        and meta["model_fingerprint"] != wanted["model_fingerprint"]
        and meta["distance"] == wanted["distance"]
        and meta["embedding_dim"] == wanted["embedding_dim"]
        and meta["model_fingerprint"] in getattr(model, "former_fingerprints", tuple)()
    ):
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
            f"or enroll into a new gallery file{_advice(model, meta['model_fingerprint'])}"
        )


def _advice(model: Any, recorded: str) -> str:
    """The model's sentence on what would open a gallery recording ``recorded``, as a clause
    (``fingerprint_advice``), or nothing."""
    advise = getattr(model, "fingerprint_advice", None) if model is not None else None
    said = advise(recorded) if advise is not None else None
    return f" ({said})" if said else ""


def check_enrolled_tower(
    path: str | Path, meta: Mapping[str, str], wanted: Mapping[str, str] | None, items: int
) -> bool:
    """Refuse a two-tower model's gallery of ``items`` items that does not record the tower
    that enrolled them (enrolled before it was recorded: with the query tower, so its vectors
    are not comparable with the query-tower probes); ``True`` when an empty one should record
    it now. Shared-weight models' galleries have no such record and need none."""
    if wanted is None or ENROLLED_TOWER_KEY not in wanted or ENROLLED_TOWER_KEY in meta:
        return False
    if items == 0:
        return True
    raise ValueError(
        f"{path} was enrolled with this half-twin model (two towers) by an older siamkit, "
        "which embedded its items with the query tower instead of the document tower "
        "(branch g of an image half-twin) that they are now searched as: enroll them again "
        "into a new gallery file."
    )
