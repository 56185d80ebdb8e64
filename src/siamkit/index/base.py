"""The search-index protocol shared by exact, FAISS and LSH search, and input checks they share.

An index holds ``(N, D)`` float32 embeddings under caller-chosen ``int64`` ids (a gallery uses
its store's item ids) and answers ``search(q, k)`` with the ``k`` nearest ids per query, like
``faiss``: rows are sorted by distance (smaller = more similar), and when fewer than ``k`` items
exist the row is padded with id ``-1`` and distance ``inf``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from siamkit.clauses import listing

ArrayLike = Tensor | np.ndarray

INDEX_CONFIG_FILE = "index.json"


class SearchResult(NamedTuple):
    """The ``k`` nearest items of each query.

    Attributes:
        distances: ``(Q, k)`` float32, ascending per row; ``inf`` where there is no k-th item.
        ids: ``(Q, k)`` int64 item ids; ``-1`` where there is no k-th item.
    """

    distances: np.ndarray
    ids: np.ndarray


@runtime_checkable
class SearchIndex(Protocol):
    """What a gallery needs from a search structure.

    >>> from siamkit.index import ExactIndex
    >>> index = ExactIndex(dim=4, distance="cosine")
    >>> index.add(np.eye(4, dtype="float32"), np.arange(4))
    >>> index.search(np.array([[1.0, 0.5, 0.0, 0.0]], dtype="float32"), k=2).ids
    array([[0, 1]])
    """

    dim: int
    distance_name: str

    def add(self, embeddings: ArrayLike, ids: ArrayLike) -> None:
        """Add ``(N, D)`` embeddings under ``(N,)`` int64 ids (new ids only)."""
        ...

    def search(self, queries: ArrayLike, k: int) -> SearchResult:
        """Nearest ``k`` items of each of the ``(Q, D)`` queries."""
        ...

    def remove(self, ids: ArrayLike) -> int:
        """Remove the given ids (unknown ids are ignored); returns how many were removed."""
        ...

    def save(self, path: str | Path) -> None:
        """Write the index into directory ``path`` (``index.json`` + data files; no pickle)."""
        ...

    def __len__(self) -> int: ...


class UnrankableEmbeddingsError(ValueError):
    """Embeddings that hold NaN, an infinite value or one past float32's range, refused by
    :func:`finite_float32` before any search or store: a class of its own, so that the service
    answers it in its sentence (the model's embeddings of what a request sent), not as a bug's
    500.

    It carries no more than its sentence: the array refused went with it to wherever it went
    (307 MB in a pickle of one 200,000 x 384 refusal, reviewer s55_R2 finding 5); a caller that
    embeds in parts takes them unchecked (``embed_inputs(..., refuse=False)``) and refuses once."""


def as_float32_matrix(
    x: ArrayLike,
    dim: int,
    what: str = "embeddings",
    holder: str = "this index holds",
    then: str = "",
    width_then: str | None = None,
) -> np.ndarray:
    """Check and convert ``(N, D)`` (or one ``(D,)`` vector) into a C-contiguous float32 array:
    the size by :func:`check_width` (``holder``, and ``width_then`` or else ``then``, end its
    sentence), the values by :func:`finite_float32` (``then`` ends its sentence), so that a
    gallery's refusal reads as its store's."""
    if isinstance(x, Tensor):  # float64 kept: a value past float32's range is named as such
        x = x.detach().to("cpu", torch.float64 if x.dtype == torch.float64 else torch.float32)
        x = x.numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what} must be a torch tensor or numpy array, got {type(x).__name__}")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"{what} must have shape (N, {dim}), got shape {tuple(x.shape)}")
    check_width(x.shape[1], dim, what, holder, then if width_then is None else width_then)
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise TypeError(f"{what} must be real numbers, got dtype {x.dtype}")
    return finite_float32(x, what, then)


def check_width(
    width: int, dim: int, what: str = "embeddings", holder: str = "this index holds", then: str = ""
) -> None:
    """Refuse rows of ``width`` values where ``holder`` (``"this index holds"``, ``"the gallery
    shop.db records"``: a gallery that holds none yet records the size) embeddings of ``dim``,
    in the one sentence every index and the gallery's store use; ``then`` ends it (``"; nothing
    was stored: ..."``)."""
    if width != dim:
        raise ValueError(
            f"the {what} have {width} values each, but {holder} embeddings of {dim}{then}"
        )


def finite_float32(
    x: np.ndarray,
    what: str = "embeddings",
    then: str = "",
    names: Sequence[str] | None = None,
    which: str = "no search can rank",
    before: int = 0,
) -> np.ndarray:
    """``(N, D)`` ``x`` as a C-contiguous float32 array, refusing the rows that hold NaN, an
    infinite value, or a finite value past float32's range (``1e39`` as float64), by their
    positions (or by ``names``, one per row: the files they were made of), in one sentence that
    says which of these it is; ``then`` ends it. ``which``: what the caller cannot do with them
    ("no search can rank"; "no threshold can be fitted on" for calibrate, which runs no search).
    ``before``: rows checked already ahead of ``x`` (a caller's earlier chunks), counted and
    numbered with it (``names`` then holds theirs first), so that a chunk's refusal is worded
    over all the rows without checking those again.

    The search indexes, the gallery and its store all check here: the store's own wording,
    alone, never met the rows a gallery refused first as "NaN or infinite" (with numpy's
    overflow warning) for values only too large (reviewer s53_FB finding 1). The cast runs
    without that warning: the rows it overflows are refused here, named as too large. Only the
    refused rows are read again as float64: the whole input cast first took 615 MB to word the
    refusal of one row in 200,000 x 384 (s54_R2 finding 4). Nor are those rows copied: a broken
    model's rows are all refused, and reading 200,000 x 384 NaN rows as float64 took 8-20 s and
    929 MB over the array to tell NaN from too large (s55_R2 finding 1); both checks now read
    the values in blocks, each in its own dtype, and only a dtype wider than float32 can hold a
    value too large for it. That block loop only words a refusal: every search and add asks
    first whether the smallest and the largest value are finite (NaN propagates through both),
    two reductions that make nothing, where the loop took 2.7x their time on a search of one
    query and 1.8x on an add of 10,000 x 384; one ``np.isfinite(out).all()`` was about 1 us
    faster still on a search (4-33%) but makes the N x D boolean array
    (``benchmarks/bench_finite.py``)."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(x, dtype=np.float32)
    if out.size == 0 or (math.isfinite(out.min()) and math.isfinite(out.max())):
        return out
    bad = np.flatnonzero(~_finite_rows(out))
    if x.dtype.kind in "biu" or (x.dtype.kind == "f" and x.dtype.itemsize <= 4):
        large = np.zeros(len(bad), dtype=bool)  # float32's range holds every such value
    else:  # the bad rows as given, before the cast
        large = _finite_rows(x, bad)
    kind = {0: "NaN or infinite values", len(bad): "values too large for float32"}.get(
        int(large.sum()), "NaN or infinite values, or values too large for float32"
    )
    # numbered after the rows checked before x, in place and as numpy ints, which listing turns
    # into strings only where shown: two lists of 200,000 Python ints (the rows, then numbered)
    # were 14 MB of a broken model's refusal (s56_m4, after s56_R4 finding 4)
    bad += before
    named = None if names is None else (names[int(i)] for i in bad)
    rows = f"rows {listing(bad, limit=5)}" if named is None else listing(named, 5)
    raise UnrankableEmbeddingsError(
        f"{len(bad)} of the {before + len(out)} {what} hold {kind} ({rows}), which {which}{then}"
    )


def _finite_rows(a: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Whether each row of ``a`` (of ``a[rows]`` where given) holds only finite values, read 65,536
    values at a time so that nothing as large as ``a`` is made to say so; a float in its
    own dtype, any other (objects) as float64."""
    a = a.reshape(1, 1) if a.ndim == 0 else a.reshape(len(a), int(np.prod(a.shape[1:])))
    n = len(a) if rows is None else len(rows)
    step = max(1, (1 << 16) // max(1, a.shape[1]))
    ok = np.empty(n, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(0, n, step):
            block = a[i : i + step] if rows is None else a[rows[i : i + step]]
            if block.dtype.kind != "f":
                block = np.asarray(block, dtype=np.float64)
            ok[i : i + step] = np.isfinite(block).all(axis=1)
    return ok


def as_ids(ids: ArrayLike, n: int) -> np.ndarray:
    """Check and convert ``(N,)`` ids into a contiguous int64 array of non-negative, unique ids."""
    if isinstance(ids, Tensor):
        ids = ids.detach().cpu().numpy()
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"ids must have shape ({n},), one per embedding, got {tuple(arr.shape)}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError("ids must be non-negative (-1 marks padding in search results)")
    if np.unique(arr).size != arr.size:
        raise ValueError("ids must be unique")
    return arr


def check_k(k: int) -> int:
    """``k`` must be a positive integer."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def empty_result(num_queries: int, k: int) -> SearchResult:
    """All-padding result: distances ``inf``, ids ``-1``, shape ``(Q, k)``."""
    return SearchResult(
        np.full((num_queries, k), np.inf, dtype=np.float32),
        np.full((num_queries, k), -1, dtype=np.int64),
    )


def pad_result(distances: np.ndarray, ids: np.ndarray, k: int) -> SearchResult:
    """Pad ``(Q, k')`` results with ``k' <= k`` on the right to ``(Q, k)``."""
    q, have = ids.shape
    if have >= k:
        return SearchResult(distances[:, :k].astype(np.float32), ids[:, :k].astype(np.int64))
    out = empty_result(q, k)
    out.distances[:, :have] = distances
    out.ids[:, :have] = ids
    return out


def write_config(path: str | Path, config: dict[str, Any]) -> Path:
    """Create directory ``path`` and write ``index.json``; returns the directory."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INDEX_CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
    return folder


def read_config(path: str | Path, expected_type: str | None = None) -> dict[str, Any]:
    """Read ``index.json`` of a saved index directory, checking its ``type``."""
    file = Path(path) / INDEX_CONFIG_FILE
    if not file.is_file():
        raise FileNotFoundError(f"no saved index at {path} (missing {INDEX_CONFIG_FILE})")
    config = json.loads(file.read_text())
    if expected_type is not None and config.get("type") != expected_type:
        raise ValueError(
            f"{path} holds a {config.get('type')!r} index, not {expected_type!r}; use load_index()"
        )
    return dict(config)
