"""Functional distances. Every function returns a dissimilarity: smaller = more similar.

Naming follows sentence-transformers: ``pairwise_*(x, y)`` compares row i of ``x`` with row i
of ``y`` and returns ``(N,)``; ``*_matrix(x, y)`` compares every row of ``x`` with every row of
``y`` and returns ``(N, M)``. Gradients stay finite where two points coincide.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

import torch
from torch import Tensor

_COS_EPS = 1e-8


def _check_pair(x: Tensor, y: Tensor, same_rows: bool) -> None:
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError(
            f"distances take torch tensors, got {type(x).__name__} and {type(y).__name__}"
        )
    if x.dim() != 2 or y.dim() != 2:
        raise ValueError(
            f"distances take 2-D (N, D) tensors, got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"embedding sizes differ: {x.shape[1]} vs {y.shape[1]} (shapes {tuple(x.shape)}, {tuple(y.shape)})"
        )
    if same_rows and x.shape[0] != y.shape[0]:
        raise ValueError(
            f"pairwise distances need the same number of rows, got {x.shape[0]} and {y.shape[0]}"
        )


def safe_sqrt(sq: Tensor) -> Tensor:
    """``sqrt`` that is exactly 0 at 0 with a zero (finite) gradient there, instead of NaN/inf."""
    if not sq.requires_grad:  # no gradient to guard: the same values in two passes, not five
        return sq.clamp_min(0).sqrt_()
    sq = sq.clamp_min(0)
    positive = sq > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))), sq * 0)


def pairwise_sqeuclidean(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distance between matching rows. ``(N, D), (N, D) -> (N,)``."""
    _check_pair(x, y, same_rows=True)
    return (x - y).pow(2).sum(dim=1)


def pairwise_euclidean(x: Tensor, y: Tensor) -> Tensor:
    """Euclidean distance between matching rows. ``(N, D), (N, D) -> (N,)``.

    >>> pairwise_euclidean(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]]))
    tensor([5.])
    """
    return safe_sqrt(pairwise_sqeuclidean(x, y))


def cosine_distance(cos: Tensor) -> Tensor:
    """``1 - cos`` held in ``[0, 2]``: rounding puts the cosine of two identical vectors at
    ``1 + 1e-7``, a distance of ``-1e-7`` (and that of opposite ones past 2). Under autograd only
    the value is held: the gradient stays that of ``1 - cos``, so a loss still pushes apart two
    points that coincide (a plain clamp would give them none)."""
    d = 1.0 - cos
    if not d.requires_grad:
        return d.clamp_(0.0, 2.0)
    return d + (d.clamp(0.0, 2.0) - d).detach()


def pairwise_cosine(x: Tensor, y: Tensor) -> Tensor:
    """Cosine distance ``1 - cos(x_i, y_i)`` in ``[0, 2]``. ``(N, D), (N, D) -> (N,)``."""
    _check_pair(x, y, same_rows=True)
    xn = x / x.norm(dim=1, keepdim=True).clamp_min(_COS_EPS)
    yn = y / y.norm(dim=1, keepdim=True).clamp_min(_COS_EPS)
    return cosine_distance((xn * yn).sum(dim=1))


def pairwise_manhattan(x: Tensor, y: Tensor) -> Tensor:
    """L1 distance between matching rows. ``(N, D), (N, D) -> (N,)``."""
    _check_pair(x, y, same_rows=True)
    return (x - y).abs().sum(dim=1)


def float64_product_on(device: torch.device) -> bool:
    """Whether :func:`sqeuclidean_matrix` takes its exact (float64) product on ``device``: on
    the CPU and CUDA, not on Apple's MPS, which has no float64 (there the float32 product stays,
    ~1e-3 apart for identical unit-norm rows)."""
    return device.type != "mps"


class Widened:
    """The context of :func:`widened_once`: ``y``, its float64 copy and squared norms (made on
    first use). It can be entered again and again, e.g. around each block of a generator,
    which must not hold a context across its ``yield``."""

    def __init__(self, y: Tensor) -> None:
        # an inference tensor keeps no version: it is widened per call, as without this
        self.y, self.version = y, (None if y.is_inference() else y._version)
        self.y64: Tensor | None = None
        self.n64: Tensor | None = None
        self._tokens: list[Token[Widened | None]] = []

    def __enter__(self) -> Widened:
        self._tokens.append(_WIDENED.set(self))
        return self

    def __exit__(self, *exc: object) -> None:
        _WIDENED.reset(self._tokens.pop())

    def rows(self, y: Tensor) -> tuple[Tensor, Tensor] | None:
        """The float64 rows and norms of ``y`` when ``y`` is ``self.y`` or a run of its rows."""
        base, start = self.y, 0
        if y is not base:
            if (
                y.dim() != 2
                or y.dtype != base.dtype
                or y.device != base.device
                or y.shape[1] != base.shape[1]
                or y.stride() != base.stride()
                or not base.is_contiguous()
                or y.untyped_storage().data_ptr() != base.untyped_storage().data_ptr()
            ):
                return None
            offset = y.storage_offset() - base.storage_offset()
            width = max(1, base.shape[1])
            start = offset // width
            if offset % width or start < 0 or start + y.shape[0] > base.shape[0]:
                return None
        if self.version is None or y.is_inference() or y._version != self.version:
            return None
        if self.y64 is None or self.n64 is None:
            self.y64 = base.double()
            self.n64 = self.y64.pow(2).sum(1)
        return self.y64[start : start + y.shape[0]], self.n64[start : start + y.shape[0]]


_WIDENED: ContextVar[Widened | None] = ContextVar("siamkit_widened", default=None)


def widened_once(y: Tensor) -> Widened:
    """A context inside which :func:`sqeuclidean_matrix` (and the Euclidean distances built on
    it) takes the float64 copy of ``y`` and its squared norms once, for every call whose second
    argument is ``y`` or a run of its rows, instead of once per call: a caller that compares
    row blocks with a whole gallery otherwise widened all of it per block (2.6-2.9x the
    float32 time at 50,000 x 128 in 80-row blocks). The values are the same; any other
    argument is widened as usual, and so is ``y`` once changed in place."""
    return Widened(y)


def sqeuclidean_matrix(x: Tensor, y: Tensor, *, exact: bool = True) -> Tensor:
    """All squared Euclidean distances. ``(N, D), (M, D) -> (N, M)``.

    Uses one matrix product (``|x|^2 + |y|^2 - 2 x.y``), clamped at 0; where ``x is y`` the
    diagonal is set to exactly 0. In float32 that product's rounding cancels, near 0, into an
    error as large as the distance (two identical unit-norm images ~1e-3 apart). So with
    ``exact=True`` (the default) and without autograd, a float32 matrix is taken from a float64
    product, on the CPU and CUDA (:func:`float64_product_on`; MPS keeps the float32 product): a
    Euclidean distance within ~1e-7 of its exact value at unit norm, and within 1e-6 of 1:1
    verification's (:func:`pairwise_sqeuclidean`), so a threshold fitted on the matrix decides
    as verification does. Every caller but training's takes this: evaluation, calibration,
    retrieval, the cohort norms, the faces and signatures applications, the indexes.

    ``exact=False``, and every call under autograd, keeps the float32 product (as
    pytorch-metric-learning's ``LpDistance``), 1.4-1.7x faster at miner sizes (512-2048 rows).
    Training passes it (:func:`~siamkit.distances.training_matrix`: every loss and miner, and
    offline mining), also where it computes without a graph (mining, the fused Euclidean
    triplet losses, a validation loss), so its losses are those before the float64 product:
    a batch's 1e-3 near 0 moves no loss.
    """
    _check_pair(x, y, same_rows=False)
    grad = torch.is_grad_enabled() and (x.requires_grad or y.requires_grad)
    if exact and not grad and x.dtype == y.dtype == torch.float32 and float64_product_on(x.device):
        widened = _WIDENED.get()
        kept = None if widened is None else widened.rows(y)
        x64 = x.double()
        if kept is None:
            y64 = x64 if x is y else y.double()
            ny64 = y64.pow(2).sum(1)
        else:
            y64, ny64 = kept
        # in place: one (N, M) float64 block at a time
        sq64 = (x64 @ y64.T).mul_(-2.0).add_(x64.pow(2).sum(1, keepdim=True))
        sq = sq64.add_(ny64).clamp_min_(0).float()
    else:
        nx, ny = x.pow(2).sum(1, keepdim=True), y.pow(2).sum(1).unsqueeze(0)
        sq = (nx + ny - 2.0 * (x @ y.T)).clamp_min(0)
    if x is y:
        sq = sq * (1 - torch.eye(x.shape[0], dtype=sq.dtype, device=sq.device))
    return sq


def euclidean_matrix(x: Tensor, y: Tensor, *, exact: bool = True) -> Tensor:
    """All Euclidean distances. ``(N, D), (M, D) -> (N, M)``; ``exact`` as in
    :func:`sqeuclidean_matrix`."""
    return safe_sqrt(sqeuclidean_matrix(x, y, exact=exact))


def cosine_matrix(x: Tensor, y: Tensor) -> Tensor:
    """All cosine distances ``1 - cos`` in ``[0, 2]``. ``(N, D), (M, D) -> (N, M)``."""
    _check_pair(x, y, same_rows=False)
    xn = x / x.norm(dim=1, keepdim=True).clamp_min(_COS_EPS)
    yn = y / y.norm(dim=1, keepdim=True).clamp_min(_COS_EPS)
    return cosine_distance(xn @ yn.T)


def manhattan_matrix(x: Tensor, y: Tensor) -> Tensor:
    """All L1 distances. ``(N, D), (M, D) -> (N, M)``."""
    _check_pair(x, y, same_rows=False)
    return torch.cdist(x, y, p=1.0)
