"""Create a search index by name, or load a saved one."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from siamkit.distances import Distance
from siamkit.index.base import SearchIndex, read_config
from siamkit.index.exact import ExactIndex
from siamkit.index.faiss_index import FAISS_KINDS, FaissIndex
from siamkit.index.lsh import LSHIndex
from siamkit.registry import Registry

INDEXES: Registry[SearchIndex] = Registry("index")


def _faiss(kind: str) -> Callable[..., SearchIndex]:
    def make(dim: int, distance: str | Distance = "euclidean", **options: Any) -> SearchIndex:
        return FaissIndex(dim, kind, distance, **options)

    make.__signature__ = _faiss_signature(kind)  # type: ignore[attr-defined]
    return make


def _faiss_signature(kind: str) -> inspect.Signature:
    """FaissIndex's own parameters without ``kind``, so options are checked against them."""
    sig = inspect.signature(FaissIndex)
    return sig.replace(parameters=[p for n, p in sig.parameters.items() if n != "kind"])


INDEXES.register("exact", ExactIndex)
for _kind in FAISS_KINDS:
    INDEXES.register(f"faiss-{_kind}", _faiss(_kind))
INDEXES.register("lsh", LSHIndex)
INDEX_KINDS = ("exact", *(f"faiss-{k}" for k in FAISS_KINDS), "lsh")


def create_index(
    kind: str, dim: int, distance: str | Distance = "euclidean", **options: Any
) -> SearchIndex:
    """An empty index of a registered ``kind`` (:data:`INDEXES`): ``"exact"`` (default),
    ``"faiss-flat"``, ``"faiss-ivf"``, ``"faiss-hnsw"``, ``"lsh"``.

    ``options`` go to the index class (e.g. ``nprobe=16`` for IVF, ``num_tables=8`` for LSH);
    one it does not take is a ``TypeError`` naming those it does.

    >>> create_index("faiss-hnsw", 128, "cosine", ef_search=128)  # doctest: +SKIP
    FaissIndex(dim=128, kind='hnsw', distance='cosine', n=0)
    """
    return INDEXES.build(kind, dim=dim, distance=distance, **options)


def load_index(path: str | Path) -> SearchIndex:
    """Load any index saved with ``index.save(path)``; the type is read from ``index.json``."""
    kind = read_config(path).get("type")
    if kind == "exact":
        return ExactIndex.load(path)
    if kind == "faiss":
        return FaissIndex.load(path)
    if kind == "lsh":
        return LSHIndex.load(path)
    raise ValueError(f"{path} holds an unknown index type {kind!r}")
