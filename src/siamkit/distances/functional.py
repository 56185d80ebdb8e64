"""Functional distances. Every function returns a dissimilarity: smaller = more similar.

Naming follows sentence-transformers: ``pairwise_*(x, y)`` compares row i of ``x`` with row i
of ``y`` and returns ``(N,)``; ``*_matrix(x, y)`` compares every row of ``x`` with every row of
``y`` and returns ``(N, M)``. Gradients stay finite where two points coincide.
"""

from __future__ import annotations

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


#: Share of ``|x|^2 + |y|^2`` under which :func:`sqeuclidean_matrix` of float32 embeddings on an
#: accelerator (without autograd) takes a pair's value from its difference instead of the matrix
#: product. The product's float32 rounding of ``|x|^2 + |y|^2 - 2 x.y`` stays within about
#: ``5 eps (|x|^2 + |y|^2)`` (measured from 8 to 4,544 dimensions), no small error near 0: two
#: identical images of unit-norm embeddings came out up to ~1e-3 apart, where
#: :func:`pairwise_euclidean` (``siamkit verify``) gives 0. Above this share a Euclidean
#: distance is within ``6e-7 sqrt(|x|^2 + |y|^2)`` of its exact value (8e-7 at unit norm).
CLOSE_SHARE = 0.25

#: Values of the gathered pairs one step of that recomputation takes per side (2 MB of float32).
_CLOSE_ELEMENTS = 1 << 19


def sqeuclidean_matrix(x: Tensor, y: Tensor) -> Tensor:
    """All squared Euclidean distances. ``(N, D), (M, D) -> (N, M)``.

    Uses one matrix product (``|x|^2 + |y|^2 - 2 x.y``), clamped at 0; where ``x is y`` the
    diagonal is set to exactly 0. In float32 that product's rounding cancels, near 0, into an
    error as large as the distance (two identical images ~1e-3 apart). Without autograd a
    float32 matrix is therefore taken on the CPU from a float64 product (a Euclidean distance
    within ~1e-7 of its exact value at unit norm, for ~1.3 times the float32 product's time),
    and on an accelerator the pairs the product puts close (:data:`CLOSE_SHARE`) are taken
    from their difference, as :func:`pairwise_sqeuclidean` does. A pair's value then agrees
    with 1:1 verification's within 1e-6 (unit-norm embeddings), so a threshold fitted on the
    matrix decides as verification does. Training (autograd) keeps the float32 product: its
    rounding moves no loss.
    """
    _check_pair(x, y, same_rows=False)
    grad = torch.is_grad_enabled() and (x.requires_grad or y.requires_grad)
    exact = not grad and x.dtype == y.dtype == torch.float32
    if exact and x.device.type == "cpu":
        x64, y64 = x.double(), y.double()  # in place: one (N, M) float64 block at a time
        sq64 = (x64 @ y64.T).mul_(-2.0).add_(x64.pow(2).sum(1, keepdim=True))
        sq = sq64.add_(y64.pow(2).sum(1)).clamp_min_(0).float()
    else:
        nx, ny = x.pow(2).sum(1, keepdim=True), y.pow(2).sum(1).unsqueeze(0)
        sq = (nx + ny - 2.0 * (x @ y.T)).clamp_min(0)
        if exact:
            _close_from_differences(sq, x, y, sq < (nx + ny).mul_(CLOSE_SHARE))
    if x is y:
        sq = sq * (1 - torch.eye(x.shape[0], dtype=sq.dtype, device=sq.device))
    return sq


def _close_from_differences(sq: Tensor, x: Tensor, y: Tensor, close: Tensor) -> None:
    """Replace in place the ``close`` entries of ``sq`` by ``|x_i - y_j|^2``, from the rows'
    differences in steps of about ``_CLOSE_ELEMENTS`` gathered values per side."""
    i, j = close.nonzero(as_tuple=True)
    step = max(1, _CLOSE_ELEMENTS // max(1, x.shape[1]))
    for s in range(0, i.numel(), step):
        a, b = i[s : s + step], j[s : s + step]
        sq[a, b] = (x[a] - y[b]).pow(2).sum(dim=1)


def euclidean_matrix(x: Tensor, y: Tensor) -> Tensor:
    """All Euclidean distances. ``(N, D), (M, D) -> (N, M)``."""
    return safe_sqrt(sqeuclidean_matrix(x, y))


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
