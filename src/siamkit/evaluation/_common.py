"""Input checks and chunked distance blocks shared by the evaluation modules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

import numpy as np
import torch
from torch import Tensor

from siamkit.distances import (
    SCORE_NORMS,
    CohortNormalized,
    Distance,
    FixedDistance,
    MahalanobisDistance,
    get_distance,
    widened_once,
)
from siamkit.miners._common import NonFiniteEmbeddings
from siamkit.progress import progress

#: A torch tensor, numpy array or nested sequence of numbers.
ArrayLike: TypeAlias = Any
#: A distance name (``"euclidean"``, ``"cosine"``, ...) or a ``Distance`` object.
DistanceLike: TypeAlias = "str | Distance"

#: Elements of a distance block computed at once (~16 MB of float32).
BLOCK_ELEMENTS = 4_000_000

#: Memory the distance blocks kept by :func:`shared_distance_matrices` may take (1 GiB).
SHARED_MATRIX_BYTES = 1 << 30

#: Embeddings at least this wide have even their named distances kept by
#: :func:`shared_distance_matrices`: one pass over 4,000 items of 512 dimensions costs ~0.2 CPU-s
#: (of 4,544: ~1.7 s) where copying its kept blocks costs ~0.005 s.
KEEP_NAMED_DIM = 512


def memoized(distance: Distance, z: Tensor) -> AbstractContextManager[Any]:
    """``distance.memoized(z)`` when the distance keeps per-row statistics (cohort score
    normalisation), so comparing the rows of ``z`` many times computes them once; else a no-op."""
    memo = getattr(distance, "memoized", None)
    return memo(z) if callable(memo) else nullcontext()


T = TypeVar("T")


def as_sequence(values: Iterable[T], name: str, example: str) -> tuple[T, ...]:
    """``values`` as a tuple; a ``TypeError`` naming ``name`` when it is one number (or a string)
    where a list is meant, e.g. ``fars=0.01`` for ``fars=(0.01,)``."""
    if not isinstance(values, Iterable) or isinstance(values, (str, bytes)):
        raise TypeError(f"{name} takes a list of values, e.g. {name}={example}, got {values!r}")
    return tuple(values)


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
    checked = _CHECKED.get()
    known = checked is not None and _same_view(checked[0], t) and checked[1] == _version(t)
    if not known and not torch.isfinite(t).all():
        raise NonFiniteEmbeddings(
            f"{name} contain NaN or inf; check the model output before evaluating"
        )
    return t


_CHECKED: ContextVar[tuple[Tensor, int | None] | None] = ContextVar(
    "siamkit_checked_embeddings", default=None
)


@contextmanager
def checked_embeddings(z: Tensor) -> Iterator[None]:
    """Within the block, :func:`as_embeddings` of ``z`` (the same view of the same memory, not
    changed since) skips the finite check ``z`` has passed: each section of one evaluation takes
    its embeddings through :func:`as_embeddings` again, a full pass over a wide ``z`` each time."""
    token = _CHECKED.set((z, _version(z)))
    try:
        yield
    finally:
        _CHECKED.reset(token)


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
        raise NonFiniteEmbeddings(
            f"{name} distances contain NaN or inf; check the embeddings and the distance (a "
            "learned metric's weights may have become NaN)"
        )
    return arr


def resolve_distance(distance: DistanceLike) -> Distance:
    """``get_distance`` with the evaluation modules' error wording."""
    return get_distance(distance)


def distance_name(distance: DistanceLike) -> str:
    """A printable name for a distance given by name or object."""
    if isinstance(distance, str):
        return distance.lower()
    return str(getattr(distance, "name", type(distance).__name__))


def score_kind(distance: DistanceLike) -> str:
    """What the values of ``distance`` are, in words, for labels: ``"distance"``, or for a
    cohort-normalised distance (named ``"euclidean+snorm"``, ``eval.score_norm``) a
    ``"snorm-normalised score"``, which is no distance (it can be negative).

    >>> score_kind("cosine"), score_kind("cosine+snorm")
    ('distance', 'snorm-normalised score')
    """
    base, plus, method = distance_name(distance).rpartition("+")
    return f"{method}-normalised score" if plus and base and method in SCORE_NORMS else "distance"


def value_tag(kind: str) -> str:
    """The short tag a plot writes before a value of :func:`score_kind` ``kind``: ``d`` for a
    distance, ``score`` for a normalised score (which is no distance).

    >>> value_tag("distance"), value_tag("snorm-normalised score")
    ('d', 'score')
    """
    return "d" if kind == "distance" else "score"


def row_chunk(n_cols: int, per_col: int = 1) -> int:
    """Rows per block so that a block of ``rows × n_cols × per_col`` stays near ``BLOCK_ELEMENTS``."""
    return max(1, BLOCK_ELEMENTS // max(1, n_cols * per_col))


@dataclass
class _Kept:
    """The distance blocks of one embedding set, distance and layout (all rows, or upper)."""

    z: Tensor  # held so that its storage, and so its address, stays this tensor's
    version: int | None  # of z when its blocks were computed
    distance: Distance
    upper: bool
    state: tuple[Any, ...]
    blocks: list[tuple[int, Tensor]]

    def serves(
        self, z: Tensor, distance: Distance, upper: bool, state: tuple[Any, ...], version: Any
    ) -> bool:
        """Whether these are the blocks of ``z`` (unchanged since) under ``distance`` as it is."""
        return (
            self.distance is distance
            and (self.upper, self.state, self.version) == (upper, state, version)
            and _same_view(self.z, z)
        )


@dataclass
class _KeptPairs:
    """The genuine and impostor distances of all pairs of one embedding set and labelling."""

    z: Tensor  # held so that its storage, and so its address, stays this tensor's
    version: int | None
    distance: Distance
    state: tuple[Any, ...]
    codes: Tensor
    genuine: np.ndarray
    impostor: np.ndarray


@dataclass
class _SharedMatrices:
    max_bytes: int
    used: int = 0
    kept: list[_Kept] = field(default_factory=list)
    pairs: list[_KeptPairs] = field(default_factory=list)


def kept_pairs(
    z: Tensor, codes: Tensor, distance: Distance
) -> tuple[np.ndarray, np.ndarray] | None:
    """Inside :func:`shared_distance_matrices`, copies of the genuine and impostor distances of
    all pairs of ``z`` (unchanged since) under ``distance`` (as it is) and labels ``codes`` that
    :func:`keep_pairs` kept; ``None`` outside the block or where none were kept."""
    shared = _SHARED.get()
    if shared is None:
        return None
    state, version = _state(distance), _version(z)
    for k in shared.pairs:
        if (
            k.distance is distance
            and (k.state, k.version) == (state, version)
            and _same_view(k.z, z)
            and torch.equal(k.codes, codes.cpu())
        ):
            return k.genuine.copy(), k.impostor.copy()  # callers may change them in place
    return None


def keep_pairs(
    z: Tensor, codes: Tensor, distance: Distance, genuine: np.ndarray, impostor: np.ndarray
) -> None:
    """Keep copies of all pairs' distances of ``z`` for :func:`kept_pairs`, inside
    :func:`shared_distance_matrices` and within its ``max_bytes``; else nothing."""
    shared = _SHARED.get()
    size = genuine.nbytes + impostor.nbytes
    if shared is None or shared.used + size > shared.max_bytes:
        return
    shared.used += size
    shared.pairs.append(
        _KeptPairs(
            z, _version(z), distance, _state(distance), codes.cpu().clone(), genuine.copy(),
            impostor.copy(),
        )
    )  # fmt: skip


_SHARED: ContextVar[_SharedMatrices | None] = ContextVar("siamkit_shared_matrices", default=None)


@contextmanager
def shared_distance_matrices(max_bytes: int = SHARED_MATRIX_BYTES) -> Iterator[None]:
    """Within the block, the pair distances of one embedding set under a costly distance (a
    learned pair head such as ``MLPMetric``, alone or cohort-normalised, or any other distance
    object) are computed once and reused by every part that compares all its items:
    verification, retrieval, the TAR/FAR of a threshold, and the report's k-NN and failure
    cases. Each part gets the values it computes on its own, bit for bit (upper-triangle and
    all-rows blocks round differently, so when a set takes several blocks each layout is kept).

    The named distances and the Mahalanobis metric are cheap on narrow embeddings and computed
    afresh there; from ``KEEP_NAMED_DIM`` dimensions on (a hypercolumn of tapped features, say)
    they are kept too. Whatever the distance, the genuine and impostor distances of all pairs
    (:func:`~siamkit.evaluation.pairs.all_pair_distances`: the verification's) are kept, so the
    TAR/FAR of a threshold on the same set takes them again. At most ``max_bytes`` of distances are kept; a larger set is computed each
    time, as without the block. Streamed verification (more than ``STREAM_PAIRS`` pairs) keeps
    none, so that it holds one block at a time, but reuses blocks kept before. Nested blocks share the outermost one. Do not change the
    embeddings or the distance's weights inside the block: a change is noticed and the distances
    computed afresh.

    >>> with shared_distance_matrices():                              # doctest: +SKIP
    ...     report = evaluate_embeddings(z, labels, net.scoring_distance)
    ...     write_report("report.html", report, z, labels, distance=net.scoring_distance)
    """
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set(_SharedMatrices(max_bytes))
    try:
        yield
    finally:
        _SHARED.reset(token)


def _costly(distance: Distance, dim: int) -> bool:
    """Whether a distance's matrix of ``dim``-wide embeddings is worth keeping: not a named
    distance or a linear metric, unless the embeddings are ``KEEP_NAMED_DIM`` wide or more."""
    if isinstance(distance, CohortNormalized):
        return _costly(distance.base, dim)
    return dim >= KEEP_NAMED_DIM or not isinstance(distance, (FixedDistance, MahalanobisDistance))


def _version(t: Tensor) -> int | None:
    return None if t.is_inference() else t._version


def _state(distance: Distance) -> tuple[Any, ...]:
    """What a distance's values depend on besides the embeddings: the versions of its weights
    (and of its base's), which in-place updates bump, and which rows a cohort-normalised
    distance has memoised statistics of (:meth:`CohortNormalized.memoized`)."""
    out: list[Any] = [getattr(distance, "_memo_of", None)]
    for d in (distance, getattr(distance, "base", None)):
        if isinstance(d, torch.nn.Module):
            out += [_version(t) for t in (*d.parameters(), *d.buffers())]
    return tuple(out)


def _same_view(a: Tensor, b: Tensor) -> bool:
    """Whether ``a`` and ``b`` view the same memory the same way (e.g. ``b = a.detach()``)."""
    return (
        a.device == b.device
        and a.dtype == b.dtype
        and a.shape == b.shape
        and a.stride() == b.stride()
        and a.storage_offset() == b.storage_offset()
        and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    )


def _block_rows(
    z: Tensor, distance: Distance, upper: bool, step: int, keep_new: bool = True
) -> Iterator[tuple[int, Tensor]]:
    """The blocks of :func:`distance_rows`, kept and reused inside :func:`shared_distance_matrices`
    (``keep_new=False``: reused when kept before, not kept now)."""
    n = z.shape[0]
    shared = _SHARED.get()
    starts = range(0, n, step)
    keep = shared is not None and _costly(distance, z.shape[1])
    state, version = (_state(distance), _version(z)) if keep else ((), None)
    if shared is not None and keep:
        for k in shared.kept:
            if k.serves(z, distance, upper, state, version):
                for s, block in k.blocks:
                    yield s, block.clone()  # callers may change a block in place
                return
        size = sum(min(step, n - s) * (n - s if upper else n) for s in starts)
        keep = keep_new and shared.used + size * max(4, z.element_size()) <= shared.max_bytes
    blocks = []
    wide = widened_once(z)  # z's float64 copy once, not per block (entered per block: a yield)
    for s in starts:
        with wide:
            block = distance.matrix(z[s : s + step], z[s:] if upper else z).cpu()
        if keep:
            blocks.append((s, block))
            block = block.clone()
        yield s, block
    if shared is not None and keep:
        shared.used += sum(b.numel() * b.element_size() for _, b in blocks)
        shared.kept.append(_Kept(z, version, distance, upper, state, blocks))


@torch.no_grad()
def distance_rows(
    z: Tensor,
    distance: Distance,
    upper: bool = False,
    desc: str | None = None,
    keep: bool = True,
) -> Iterator[tuple[int, Tensor]]:
    """Yield ``(row_start, block)`` where ``block = distance.matrix(z[rows], z[cols])``, on the CPU.

    ``cols`` is all of ``z``; with ``upper=True`` it is ``z[row_start:]`` (the block's column
    ``c`` is item ``row_start + c``), which halves the work for upper-triangle uses.
    Blocks hold about ``BLOCK_ELEMENTS`` values, so memory stays bounded for any ``N``.
    With ``desc``, long runs report progress (:mod:`siamkit.progress`) in rows of ``z``.
    Inside :func:`shared_distance_matrices` the blocks of a costly distance are computed once;
    with ``keep=False`` blocks kept before are reused but these are not kept (a caller that holds
    one block at a time, such as streamed verification, whose N²/2 pairs would stay held).
    """
    n = z.shape[0]
    step = row_chunk(n)
    upper = upper and step < n  # in one block the upper rows are all the rows
    with progress(n if desc else None, desc or "", "items") as bar:
        for s, block in _block_rows(z, distance, upper, step, keep):
            yield s, block
            if desc:
                bar.update(block.shape[0])
