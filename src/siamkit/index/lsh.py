"""Random-hyperplane locality-sensitive hashing (SimHash), for comparison with exact and FAISS.

Seed 003 likens a Siamese network to "comparing fingerprints ... a distance function for
locality-sensitive hashing": here each embedding gets ``num_tables`` fingerprints of
``num_bits`` bits, bit ``j`` saying on which side of random hyperplane ``j`` it lies. Two
vectors at angle ``theta`` agree on a bit with probability ``1 - theta / pi``, so near neighbours
share buckets. A query looks up its own bucket and, with ``probe_radius=1``, the buckets one bit
away in every table, then re-ranks those candidates with the exact distance, so the distances it
returns are exact and only recall is approximate.

It is here for comparison (``benchmarks/bench_search.py``, ``Gallery.open(..., index="lsh")``):
``add`` copies its arrays, so build large indexes in big batches; FAISS HNSW/IVF are faster at
equal recall.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from siamkit.distances import Distance, get_distance
from siamkit.index.base import (
    ArrayLike,
    SearchResult,
    as_float32_matrix,
    as_ids,
    check_k,
    empty_result,
    read_config,
    write_config,
)


def hyperplane_codes(x: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """Bucket codes ``(N, L)`` int64 of ``(N, D)`` vectors under ``(L, B, D)`` hyperplanes."""
    bits = np.einsum("nd,lbd->nlb", x, planes) > 0  # (N, L, B)
    weights = (1 << np.arange(planes.shape[1], dtype=np.int64))[None, None, :]
    return (bits * weights).sum(axis=2).astype(np.int64)


class LSHIndex:
    """Approximate search by random-hyperplane LSH with exact re-ranking.

    Args:
        dim: embedding dimension ``D``.
        distance: the distance used to re-rank candidates (any name or Distance object).
        num_tables: independent hash tables ``L`` (more tables: higher recall, more work).
        num_bits: hyperplanes per table ``B`` (more bits: smaller buckets), at most 62.
        probe_radius: 0 looks up only the query's bucket; 1 also every bucket one bit away.
        seed: seed of the random hyperplanes.

    >>> index = LSHIndex(dim=2, num_tables=4, num_bits=2)
    >>> index.add(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1, 2]))
    >>> index.search(np.array([[0.9, 0.1]]), k=1).ids
    array([[1]])
    """

    def __init__(
        self,
        dim: int,
        distance: str | Distance = "cosine",
        num_tables: int = 8,
        num_bits: int = 12,
        probe_radius: int = 1,
        seed: int = 0,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if not 1 <= num_bits <= 62:
            raise ValueError(f"num_bits must be between 1 and 62, got {num_bits}")
        if num_tables < 1 or probe_radius not in (0, 1):
            raise ValueError("num_tables must be >= 1 and probe_radius 0 or 1")
        self.dim, self.num_tables, self.num_bits = dim, num_tables, num_bits
        self.probe_radius, self.seed = probe_radius, seed
        self.distance = get_distance(distance)
        self.distance_name = self.distance.name
        rng = np.random.default_rng(seed)
        self.planes = rng.standard_normal((num_tables, num_bits, dim)).astype(np.float32)
        self._vectors = np.empty((0, dim), np.float32)
        self._ids = np.empty(0, np.int64)
        self._codes = np.empty((0, num_tables), np.int64)
        self._tables: list[tuple[np.ndarray, np.ndarray]] | None = None  # (sorted codes, order)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def __repr__(self) -> str:
        return (
            f"LSHIndex(dim={self.dim}, distance={self.distance_name!r}, "
            f"num_tables={self.num_tables}, num_bits={self.num_bits}, n={len(self)})"
        )

    def add(self, embeddings: ArrayLike, ids: ArrayLike) -> None:
        """Add ``(N, D)`` embeddings under new ``(N,)`` int64 ids."""
        x = as_float32_matrix(embeddings, self.dim)
        new_ids = as_ids(ids, x.shape[0])
        with self._lock:
            if np.intersect1d(self._ids, new_ids).size:
                raise ValueError("ids already in the index")
            self._vectors = np.concatenate([self._vectors, x])
            self._ids = np.concatenate([self._ids, new_ids])
            self._codes = np.concatenate([self._codes, hyperplane_codes(x, self.planes)])
            self._tables = None

    def remove(self, ids: ArrayLike) -> int:
        """Remove the given ids (unknown ones are ignored); returns how many were removed."""
        with self._lock:
            keep = ~np.isin(self._ids, np.asarray(ids, dtype=np.int64).ravel())
            removed = int((~keep).sum())
            if removed:
                self._vectors, self._ids = self._vectors[keep], self._ids[keep]
                self._codes, self._tables = self._codes[keep], None
        return removed

    def _sorted_tables(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if self._tables is None:
            tables = []
            for t in range(self.num_tables):
                order = np.argsort(self._codes[:, t], kind="stable")
                tables.append((self._codes[order, t], order))
            self._tables = tables
        return self._tables

    def _probes(self, codes: np.ndarray) -> np.ndarray:
        """``(Q, L, P)`` bucket codes to look up: each code and, at radius 1, its 1-bit flips."""
        if self.probe_radius == 0:
            return codes[:, :, None]
        flips = np.concatenate([[0], 1 << np.arange(self.num_bits, dtype=np.int64)])
        return codes[:, :, None] ^ flips[None, None, :]

    def candidates(self, queries: ArrayLike) -> list[np.ndarray]:
        """Row positions of the stored items sharing a probed bucket with each query."""
        q = as_float32_matrix(queries, self.dim, what="queries")
        with self._lock:
            tables = self._sorted_tables()
        probes = self._probes(hyperplane_codes(q, self.planes))  # (Q, L, P)
        found: list[list[np.ndarray]] = [[] for _ in range(q.shape[0])]
        for t, (sorted_codes, order) in enumerate(tables):
            lo = np.searchsorted(sorted_codes, probes[:, t], side="left")  # (Q, P)
            hi = np.searchsorted(sorted_codes, probes[:, t], side="right")
            for i, j in zip(*np.nonzero(hi > lo)):
                found[i].append(order[lo[i, j] : hi[i, j]])
        return [np.unique(np.concatenate(f)) if f else np.empty(0, np.int64) for f in found]

    def search(self, queries: ArrayLike, k: int) -> SearchResult:
        """The ``k`` nearest candidates of each ``(Q, D)`` query, re-ranked exactly."""
        q = as_float32_matrix(queries, self.dim, what="queries")
        k = check_k(k)
        with self._lock:
            vectors, ids = self._vectors, self._ids
        out = empty_result(q.shape[0], k)
        if len(ids) == 0:
            return out
        for i, rows in enumerate(self.candidates(q)):
            if rows.size == 0:
                continue
            with torch.inference_mode():
                d = self.distance.matrix(
                    torch.from_numpy(q[i : i + 1]), torch.from_numpy(vectors[rows])
                )
            d_np = d[0].float().numpy()
            top = np.argsort(d_np, kind="stable")[:k]
            out.distances[i, : top.size] = d_np[top]
            out.ids[i, : top.size] = ids[rows[top]]
        return out

    def save(self, path: str | Path) -> None:
        """Write ``index.json`` + ``lsh.safetensors`` (hyperplanes, vectors, ids) into ``path``."""
        config = {
            "type": "lsh",
            "dim": self.dim,
            "distance": self.distance_name,
            "num_tables": self.num_tables,
            "num_bits": self.num_bits,
            "probe_radius": self.probe_radius,
            "seed": self.seed,
        }
        folder = write_config(path, config)
        with self._lock:
            tensors = {
                "planes": torch.from_numpy(self.planes),
                "vectors": torch.from_numpy(self._vectors.copy()),
                "ids": torch.from_numpy(self._ids.copy()),
            }
        save_file(tensors, str(folder / "lsh.safetensors"))

    @classmethod
    def load(cls, path: str | Path) -> LSHIndex:
        """Read an index written by :meth:`save`."""
        config = read_config(path, "lsh")
        tensors = load_file(str(Path(path) / "lsh.safetensors"))
        index = cls(
            int(config["dim"]),
            config["distance"],
            int(config["num_tables"]),
            int(config["num_bits"]),
            int(config["probe_radius"]),
            int(config["seed"]),
        )
        index.planes = tensors["planes"].numpy()
        index.add(tensors["vectors"], tensors["ids"])
        return index
