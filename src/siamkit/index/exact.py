"""Exact (brute-force) search in torch: chunked matrix products + top-k, batched queries.

Euclidean, squared Euclidean and cosine distances use one matrix product per gallery chunk
(``|g|^2 - 2 q.g``, resp. ``q.g`` of unit vectors), so a batch of queries reads the gallery once
at close to memory speed. Any other :class:`~siamkit.distances.Distance` (Manhattan, a learned
metric) falls back to its ``matrix`` on the same chunks. With a cohort-normalised distance
(:class:`~siamkit.distances.CohortNormalized`), each stored item's cohort statistics are computed
once when it is added, so a search costs the queries' statistics plus the raw distances.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from siamkit.clauses import listing
from siamkit.distances import CohortNormalized, Distance, get_distance
from siamkit.index.base import (
    ArrayLike,
    SearchResult,
    as_float32_matrix,
    as_ids,
    check_k,
    empty_result,
    pad_result,
    read_config,
    write_config,
)

_MATMUL_DISTANCES = ("euclidean", "sqeuclidean", "cosine")
_SCORE_BUDGET = 1 << 18  # elements of the (Q, chunk) score buffer: 1 MiB, stays in cache
_MIN_BUDGET = 1 << 20  # elements of min_distances' (chunk, queries) block: 4 MiB
_EPS32 = float(np.finfo(np.float32).eps)


class ExactIndex:
    """Exact k-nearest-neighbour search over ``(N, D)`` embeddings; the default gallery index.

    Args:
        dim: embedding dimension ``D``.
        distance: a distance name (``"euclidean"``, ``"sqeuclidean"``, ``"cosine"``,
            ``"manhattan"``) or a :class:`~siamkit.distances.Distance` object.
        device: where the embeddings live and the search runs (``"cpu"`` or ``"cuda"``).
        chunk_size: gallery rows per chunk; by default sized so that the ``(Q, chunk)`` score
            buffer stays near 1 MiB (in cache).

    >>> index = ExactIndex(dim=2, distance="euclidean")
    >>> index.add(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([10, 11]))
    >>> index.search(np.array([[0.0, 1.0]]), k=3)
    SearchResult(distances=array([[1.       , 4.2426405,       inf]], dtype=float32), ids=array([[10, 11, -1]]))
    """

    def __init__(
        self,
        dim: int,
        distance: str | Distance = "euclidean",
        device: str | torch.device = "cpu",
        chunk_size: int | None = None,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = dim
        self.distance = get_distance(distance)
        self.distance_name = self.distance.name
        name = self.distance_name
        self._fast = name in _MATMUL_DISTANCES and self.distance is get_distance(name)
        self.device = torch.device(device)
        self.chunk_size = chunk_size
        self._data = torch.empty(0, dim, device=self.device)  # (capacity, D) stored vectors
        self._sqnorm = torch.empty(0, device=self.device)  # (capacity,) |g|^2 (euclidean)
        self._cohort = self.distance if isinstance(self.distance, CohortNormalized) else None
        self._norm = torch.empty(0, 2, device=self.device)  # (capacity, 2) cohort mean, std
        self._ids = np.empty(0, dtype=np.int64)  # (capacity,)
        self._n = 0
        self._max_id = -1
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"ExactIndex(dim={self.dim}, distance={self.distance_name!r}, n={self._n})"

    @property
    def ids(self) -> np.ndarray:
        """``(N,)`` ids in insertion order (a copy)."""
        return self._ids[: self._n].copy()

    def add(self, embeddings: ArrayLike, ids: ArrayLike) -> None:
        """Add ``(N, D)`` embeddings under new, unique ``(N,)`` int64 ids."""
        x = as_float32_matrix(embeddings, self.dim)
        new_ids = as_ids(ids, x.shape[0])
        if x.shape[0] == 0:
            return
        vectors = torch.from_numpy(x).to(self.device)
        if self.distance_name == "cosine" and self._fast:
            vectors = torch.nn.functional.normalize(vectors, dim=1, eps=1e-12)
        norm = None
        if self._cohort is not None:
            with torch.inference_mode():
                norm = torch.stack(self._cohort.cohort_stats(vectors), dim=1)
        with self._lock:
            self._check_new_ids(new_ids)
            self._reserve(self._n + x.shape[0])
            end = self._n + x.shape[0]
            self._data[self._n : end] = vectors
            self._sqnorm[self._n : end] = vectors.pow(2).sum(1)
            if norm is not None:
                self._norm[self._n : end] = norm
            self._ids[self._n : end] = new_ids
            self._n = end
            self._max_id = max(self._max_id, int(new_ids.max()))

    def _check_new_ids(self, new_ids: np.ndarray) -> None:
        if new_ids.min() > self._max_id:  # the common case: ids only grow
            return
        clash = np.intersect1d(self._ids[: self._n], new_ids)
        if clash.size:
            raise ValueError(f"ids already in the index: {listing(clash.tolist(), 5)}")

    def _reserve(self, needed: int) -> None:
        """Grow the buffers geometrically; old buffers stay valid for running searches."""
        capacity = self._data.shape[0]
        if needed <= capacity:
            return
        new_cap = max(needed, int(capacity * 1.5), 1024)
        data = torch.empty(new_cap, self.dim, device=self.device)
        data[: self._n] = self._data[: self._n]
        sqnorm = torch.empty(new_cap, device=self.device)
        sqnorm[: self._n] = self._sqnorm[: self._n]
        ids = np.empty(new_cap, dtype=np.int64)
        ids[: self._n] = self._ids[: self._n]
        if self._cohort is not None:
            norm = torch.empty(new_cap, 2, device=self.device)
            norm[: self._n] = self._norm[: self._n]
            self._norm = norm
        self._data, self._sqnorm, self._ids = data, sqnorm, ids

    def remove(self, ids: ArrayLike) -> int:
        """Remove the given ids (unknown ones are ignored); returns how many were removed."""
        drop = np.asarray(ids.detach().cpu() if isinstance(ids, Tensor) else ids, dtype=np.int64)
        with self._lock:
            mask = np.isin(self._ids[: self._n], drop.ravel())
            removed = int(mask.sum())
            if removed == 0:
                return 0
            keep = torch.from_numpy(np.flatnonzero(~mask)).to(self.device)
            # new tensors, not in place: a search holding the old snapshot stays consistent
            self._data = self._data[: self._n].index_select(0, keep)
            self._sqnorm = self._sqnorm[: self._n].index_select(0, keep)
            if self._cohort is not None:
                self._norm = self._norm[: self._n].index_select(0, keep)
            self._ids = self._ids[: self._n][~mask].copy()
            self._n = self._ids.shape[0]
        return removed

    def reconstruct(self, ids: ArrayLike) -> np.ndarray:
        """Stored ``(M, D)`` vectors of ``ids`` (unit-normalised for cosine); KeyError if absent."""
        wanted = np.asarray(ids, dtype=np.int64).ravel()
        with self._lock:
            stored_ids, data = self._ids[: self._n], self._data[: self._n]
        order = np.argsort(stored_ids, kind="stable")
        pos = np.searchsorted(stored_ids, wanted, sorter=order)
        pos = np.minimum(pos, max(len(order) - 1, 0))
        if len(order) == 0 or not np.array_equal(stored_ids[order[pos]], wanted):
            missing = np.setdiff1d(wanted, stored_ids).tolist()
            raise KeyError(f"ids not in the index: {listing(missing, 5)}")
        rows = torch.from_numpy(order[pos]).to(self.device)
        return data.index_select(0, rows).cpu().numpy()

    def search(self, queries: ArrayLike, k: int) -> SearchResult:
        """The ``k`` nearest stored items of each ``(Q, D)`` query; see :class:`SearchResult`."""
        q_np = as_float32_matrix(queries, self.dim, what="queries")
        k = check_k(k)
        with self._lock:  # a consistent snapshot; the work below runs without the lock
            n, data, sqnorm, ids, norm = self._n, self._data, self._sqnorm, self._ids, self._norm
        if n == 0 or q_np.shape[0] == 0:
            return empty_result(q_np.shape[0], k)
        q = torch.from_numpy(q_np).to(self.device)
        with torch.inference_mode():
            dist, pos = self._search_chunks(q, data[:n], sqnorm[:n], min(k, n), norm[:n])
        found_ids = ids[:n][pos.cpu().numpy()]
        return pad_result(dist.cpu().numpy(), found_ids, k)

    def _search_chunks(
        self, q: Tensor, data: Tensor, sqnorm: Tensor, k: int, norm: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Top-``k`` distances and row positions ``(Q, k)``, sorted, reading ``data`` chunk-wise.

        Every chunk yields keys ``(Q, C)``, smaller = nearer: ``|g|^2 - 2 q.g`` (Euclidean, which
        is ``|q - g|^2 - |q|^2``), ``-q.g`` (cosine, unit vectors) or the distance itself. The
        scores stay in cache (``chunk ~ budget / Q``), and only the queries with a key below their
        current k-th best pay for a top-k merge: after the first chunks that is a small minority.
        """
        n, nq = data.shape[0], q.shape[0]
        chunk = self.chunk_size or max(256, _SCORE_BUDGET // max(nq, 1))
        name = self.distance_name if self._fast else ""
        if name == "cosine":
            q = torch.nn.functional.normalize(q, dim=1, eps=1e-12)
        q_mm = -q if name == "cosine" else -2.0 * q  # fold the sign / factor into the queries
        q_mm_t = q_mm.T.contiguous()  # (D, Q)
        buf = torch.empty(min(chunk, n), nq, device=q.device)  # (C, Q): block @ q is BLAS-friendly
        best = torch.full((nq, k), float("inf"), device=q.device)
        best_pos = torch.zeros((nq, k), dtype=torch.long, device=q.device)
        cohort = self._cohort
        if cohort is not None:
            qm, qs = cohort.cohort_stats(q)  # once per search; stored items' at add time
        for start in range(0, n, chunk):
            block = data[start : start + chunk]  # (C, D) view, no copy
            keys_t = buf[: block.shape[0]]
            if name:
                torch.mm(block, q_mm_t, out=keys_t)
                if name != "cosine":
                    keys_t.add_(sqnorm[start : start + chunk, None])
            elif cohort is not None:
                bn = norm[start : start + chunk]
                d = cohort.base.matrix(block, q)
                keys_t.copy_(cohort.normalise(d, bn[:, :1], bn[:, 1:], qm[None], qs[None]))
            else:
                keys_t.copy_(self.distance.matrix(block, q))
            # queries whose top-k changes in this chunk: their nearest key beats their k-th best
            rows = (keys_t.amin(dim=0) < best[:, -1]).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            cand = torch.cat([best[rows], keys_t[:, rows].T], dim=1)  # (A, k + C)
            vals, sel = torch.topk(cand, k, dim=1, largest=False, sorted=True)
            arange = torch.arange(start, start + block.shape[0], device=q.device)
            cand_pos = torch.cat([best_pos[rows], arange.expand(rows.numel(), -1)], dim=1)
            best[rows], best_pos[rows] = vals, cand_pos.gather(1, sel)
        if name in ("euclidean", "sqeuclidean"):
            return self._exact_euclidean(q, data, best_pos, name)
        if name == "cosine":
            return (1.0 + best).clamp(0, 2), best_pos
        return best, best_pos

    def min_distances(self, queries: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Every stored item's distance to its nearest query: ``(N,)`` float32 distances and the
        ``(N,)`` ids, in insertion order (``inf`` for all without queries).

        The distance of an item to a query is the one :meth:`search` gives for that pair, so an
        item's value here is the smallest :meth:`search` would report for it over the queries.
        One pass over the gallery in ``(C, B)`` blocks of at most ``_MIN_BUDGET`` elements, for
        many queries at once (recommend's liked items) instead of ``k + Q`` neighbours each.

        >>> index = ExactIndex(dim=1)
        >>> index.add(np.array([[0.0], [3.0], [10.0]]), np.array([7, 8, 9]))
        >>> index.min_distances(np.array([[1.0], [9.0]]))
        (array([1., 2., 1.], dtype=float32), array([7, 8, 9]))
        """
        q_np = as_float32_matrix(queries, self.dim, what="queries")
        with self._lock:
            n, data, sqnorm, ids, norm = self._n, self._data, self._sqnorm, self._ids, self._norm
        if n == 0 or q_np.shape[0] == 0:
            return np.full(n, np.inf, dtype=np.float32), ids[:n].copy()
        q = torch.from_numpy(q_np).to(self.device)
        with torch.inference_mode():
            best = self._min_blocks(q, data[:n], sqnorm[:n], norm[:n])
        return best.cpu().numpy().astype(np.float32), ids[:n].copy()

    def _min_blocks(self, q: Tensor, data: Tensor, sqnorm: Tensor, norm: Tensor) -> Tensor:
        """``(N,)`` smallest distance of each row of ``data`` to the ``(Q, D)`` queries.

        Euclidean: ``|g|^2 - 2 q.g + |q|^2`` picks, per row, the queries within its float32
        rounding bound of the row's smallest; those pairs' distances are then taken as
        ``|q - g|``, exactly as :meth:`_exact_euclidean` computes them for :meth:`search`.
        """
        n, nq, dim = data.shape[0], q.shape[0], data.shape[1]
        name = self.distance_name if self._fast else ""
        if name == "cosine":
            q = torch.nn.functional.normalize(q, dim=1, eps=1e-12)
        q_block = max(1, min(nq, _MIN_BUDGET // 256))
        chunk = max(1, _MIN_BUDGET // q_block)
        best = torch.full((n,), float("inf"), device=q.device)
        cohort = self._cohort
        for qs in range(0, nq, q_block):
            qq = q[qs : qs + q_block]  # (B, D)
            q_mm_t = (-qq if name == "cosine" else -2.0 * qq).T.contiguous()  # (D, B)
            q_sq = qq.pow(2).sum(1)  # (B,)
            if cohort is not None:
                qm, qsd = cohort.cohort_stats(qq)
            for start in range(0, n, chunk):
                block = data[start : start + chunk]  # (C, D)
                rows = slice(start, start + block.shape[0])
                if name in ("euclidean", "sqeuclidean"):
                    found = self._exact_block_min(qq, q_mm_t, q_sq, block, sqnorm[rows], dim)
                elif name == "cosine":
                    found = (1.0 + torch.mm(block, q_mm_t).amin(1)).clamp(0, 2)
                elif cohort is not None:
                    bn = norm[rows]
                    d = cohort.base.matrix(block, qq)
                    found = cohort.normalise(d, bn[:, :1], bn[:, 1:], qm[None], qsd[None]).amin(1)
                else:
                    found = self.distance.matrix(block, qq).amin(1)
                best[rows] = torch.minimum(best[rows], found)
        return best.sqrt() if name == "euclidean" else best

    @staticmethod
    def _exact_block_min(
        qq: Tensor, q_mm_t: Tensor, q_sq: Tensor, block: Tensor, g_sq: Tensor, dim: int
    ) -> Tensor:
        """``(C,)`` smallest ``|q - g|^2`` of each block row over the ``(B, D)`` queries."""
        approx = torch.mm(block, q_mm_t).add_(g_sq[:, None]).add_(q_sq[None])  # (C, B)
        row_min = approx.amin(1)
        # float32 rounding of |g|^2 - 2 q.g + |q|^2 stays well within this (dot products of D
        # terms): every query that may be the nearest is re-measured as |q - g|^2
        tol = (2 * dim + 16) * _EPS32 * (g_sq + q_sq.max())
        r, c = (approx <= (row_min + tol)[:, None]).nonzero(as_tuple=True)
        out = torch.full((block.shape[0],), float("inf"), device=block.device)
        step = max(1, _MIN_BUDGET // dim)
        for p in range(0, r.numel(), step):  # pieces: all pairs are candidates when all tie
            rp, cp = r[p : p + step], c[p : p + step]
            sq = (qq[cp] - block[rp]).pow(2).sum(-1)
            out.scatter_reduce_(0, rp, sq, reduce="amin")
        return out

    @staticmethod
    def _exact_euclidean(q: Tensor, data: Tensor, pos: Tensor, name: str) -> tuple[Tensor, Tensor]:
        """The found items' distances as ``|q - g|`` and re-sorted by them.

        ``|g|^2 - 2 q.g + |q|^2`` loses the small distances to float32 cancellation (an image and
        its own enrolled copy came out 3.5e-4 apart); the difference itself is exact there. Done
        for the ``k`` found items only, in query blocks of a few MiB.
        """
        k, dim = pos.shape[1], data.shape[1]
        step = max(1, (1 << 20) // max(k * dim, 1))
        parts = []
        for start in range(0, q.shape[0], step):
            p = pos[start : start + step]
            diff = q[start : start + step, None, :] - data[p]  # (B, k, D)
            parts.append(diff.pow(2).sum(-1))
        sq, order = torch.cat(parts).sort(dim=1, stable=True)
        return (sq.sqrt() if name == "euclidean" else sq), pos.gather(1, order)

    def save(self, path: str | Path) -> None:
        """Write ``index.json`` + ``vectors.safetensors`` into directory ``path``."""
        if not self._fast:
            raise ValueError(
                f"an ExactIndex with a {self.distance_name!r} distance object cannot be saved by "
                "name; rebuild it from the gallery instead"
            )
        with self._lock:
            n, data, ids = self._n, self._data, self._ids
        folder = write_config(
            path, {"type": "exact", "dim": self.dim, "distance": self.distance_name, "n": n}
        )
        tensors = {"vectors": data[:n].cpu().contiguous(), "ids": torch.from_numpy(ids[:n].copy())}
        save_file(tensors, str(folder / "vectors.safetensors"))

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> ExactIndex:
        """Read an index written by :meth:`save`."""
        config = read_config(path, "exact")
        tensors = load_file(str(Path(path) / "vectors.safetensors"))
        index = cls(int(config["dim"]), config["distance"], device=device)
        index.add(tensors["vectors"], tensors["ids"])
        return index
