"""Input checks and chunked distance blocks shared by the evaluation modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeAlias

import numpy as np
import torch
from torch import Tensor

from siamkit.distances import Distance, get_distance
from siamkit.progress import progress

#: A torch tensor, numpy array or nested sequence of numbers.
ArrayLike: TypeAlias = Any
#: A distance name (``"euclidean"``, ``"cosine"``, ...) or a ``Distance`` object.
DistanceLike: TypeAlias = "str | Distance"

#: Elements of a distance block computed at once (~16 MB of float32).
BLOCK_ELEMENTS = 4_000_000


def memoized(distance: Distance, z: Tensor) -> AbstractContextManager[Any]:
    """``distance.memoized(z)`` when the distance keeps per-row statistics (cohort score
    normalisation), so comparing the rows of ``z`` many times computes them once; else a no-op."""
    memo = getattr(distance, "memoized", None)
    return memo(z) if callable(memo) else nullcontext()


def as_embeddings(z: ArrayLike, name: str = "embeddings") -> Tensor:
    """Return ``z`` as a finite float ``(N, D)`` tensor (float64 stays float64, the rest float32)."""
    if isinstance(z, Tensor):
        t = z.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(z))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must be a tensor or array of numbers, got {type(z).__name__}"
            ) from exc
    if t.dim() != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); pass at least one embedding")
    if not (t.is_floating_point() and t.dtype == torch.float64):
        t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contain NaN or inf; check the model output before evaluating")
    return t


def encode_labels(labels: ArrayLike, n: int, name: str = "labels") -> tuple[Tensor, np.ndarray]:
    """Map 1-D labels (ints, strings, ...) of length ``n`` to codes ``0..C-1``.

    Returns:
        ``(codes, classes)``: ``(N,)`` int64 codes and the ``(C,)`` sorted unique labels.
    """
    arr = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D with one label per embedding, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(
            f"got {arr.shape[0]} {name} for {n} embeddings; pass one label per embedding"
        )
    classes, inverse = np.unique(arr, return_inverse=True)
    return torch.from_numpy(inverse.reshape(-1).astype(np.int64)), classes


def as_labels(labels: ArrayLike, n: int, name: str = "labels") -> Tensor:
    """Class codes ``0..C-1`` of 1-D labels of length ``n``, ``(N,)`` int64."""
    return encode_labels(labels, n, name)[0]


def as_scores(x: ArrayLike, name: str) -> np.ndarray:
    """Return distances as a finite 1-D float numpy array."""
    arr = x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} distances must be numbers, got dtype {arr.dtype}")
    arr = arr.reshape(-1) if arr.ndim == 0 else arr
    if arr.ndim != 1:
        raise ValueError(f"{name} distances must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} distances contain NaN or inf; check the embeddings")
    return arr


def resolve_distance(distance: DistanceLike) -> Distance:
    """``get_distance`` with the evaluation modules' error wording."""
    return get_distance(distance)


def distance_name(distance: DistanceLike) -> str:
    """A printable name for a distance given by name or object."""
    if isinstance(distance, str):
        return distance.lower()
    return str(getattr(distance, "name", type(distance).__name__))


def row_chunk(n_cols: int, per_col: int = 1) -> int:
    """Rows per block so that a block of ``rows × n_cols × per_col`` stays near ``BLOCK_ELEMENTS``."""
    return max(1, BLOCK_ELEMENTS // max(1, n_cols * per_col))


@torch.no_grad()
def distance_rows(
    z: Tensor, distance: Distance, upper: bool = False, desc: str | None = None
) -> Iterator[tuple[int, Tensor]]:
    """Yield ``(row_start, block)`` where ``block = distance.matrix(z[rows], z[cols])``, on the CPU.

    ``cols`` is all of ``z``; with ``upper=True`` it is ``z[row_start:]`` (the block's column
    ``c`` is item ``row_start + c``), which halves the work for upper-triangle uses.
    Blocks hold about ``BLOCK_ELEMENTS`` values, so memory stays bounded for any ``N``.
    With ``desc``, long runs report progress (:mod:`siamkit.progress`) in rows of ``z``.
    """
    n = z.shape[0]
    step = row_chunk(n)
    with progress(n if desc else None, desc or "", "items") as bar:
        for s in range(0, n, step):
            e = min(n, s + step)
            cols = z[s:] if upper else z
            yield s, distance.matrix(z[s:e], cols).cpu()
            if desc:
                bar.update(e - s)
