"""Create a search index by name, or load a saved one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siamkit.distances import Distance
from siamkit.index.base import SearchIndex, read_config
from siamkit.index.exact import ExactIndex
from siamkit.index.faiss_index import FaissIndex
from siamkit.index.lsh import LSHIndex

INDEX_KINDS = ("exact", "faiss-flat", "faiss-ivf", "faiss-hnsw", "lsh")


def create_index(
    kind: str, dim: int, distance: str | Distance = "euclidean", **options: Any
) -> SearchIndex:
    """An empty index: ``"exact"`` (default), ``"faiss-flat"``, ``"faiss-ivf"``, ``"faiss-hnsw"``, ``"lsh"``.

    ``options`` go to the index class (e.g. ``nprobe=16`` for IVF, ``num_tables=8`` for LSH).

    >>> create_index("faiss-hnsw", 128, "cosine", ef_search=128)  # doctest: +SKIP
    FaissIndex(dim=128, kind='hnsw', distance='cosine', n=0)
    """
    if kind == "exact":
        return ExactIndex(dim, distance, **options)
    if kind.startswith("faiss-"):
        return FaissIndex(dim, kind.removeprefix("faiss-"), distance, **options)
    if kind == "lsh":
        return LSHIndex(dim, distance, **options)
    raise ValueError(f"unknown index {kind!r}; choose one of {', '.join(INDEX_KINDS)}")


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
