"""Self-supervised losses on the embeddings of two augmented views of the same ``N`` images.

Row ``i`` of each ``(N, D)`` argument comes from image ``i``; no labels are involved. SimCLR's
NT-Xent is :func:`siamkit.losses.functional.nt_xent_loss`; here are the four methods without
negative pairs:

* :func:`simsiam_loss` (Chen & He 2021): a predictor output against the *other* view's projection
  with a stop-gradient, ``D(p, z) = -cos(p, stopgrad(z))``, symmetrised: ``D(p1, z2)/2 + D(p2, z1)/2``.
* :func:`byol_loss` (Grill et al. 2020): the online prediction against the momentum target's
  projection of the other view, ``2 - 2 cos(q, stopgrad(z'))``, summed over both directions.
* :func:`vicreg_loss` (Bardes et al. 2022): invariance (MSE between the views), variance (hinge
  on each dimension's standard deviation) and covariance (squared off-diagonal covariances),
  weighted 25 / 25 / 1 as in the paper's code.
* :func:`barlow_twins_loss` (Zbontar et al. 2021): the cross-correlation matrix of the two views'
  batch-standardised projections pushed towards the identity: ``sum_i (1 - C_ii)**2 + lambda *
  sum_{i != j} C_ij**2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_views(name: str, *views: Tensor) -> None:
    shapes = {tuple(v.shape) for v in views}
    if len(shapes) != 1 or views[0].dim() != 2:
        raise ValueError(
            f"{name} expects (N, D) tensors of one shape, got {[tuple(v.shape) for v in views]}"
        )


def negative_cosine(p: Tensor, z: Tensor) -> Tensor:
    """``-mean_i cos(p_i, z_i)`` with no gradient through ``z`` (SimSiam's ``D``). ``(N, D)`` each.

    >>> negative_cosine(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]))
    tensor(-1.)
    """
    _check_views("negative_cosine", p, z)
    return -F.cosine_similarity(p, z.detach(), dim=1).mean()


def simsiam_loss(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
    """SimSiam: ``D(p1, z2) / 2 + D(p2, z1) / 2``; ``p`` predictor outputs, ``z`` projections.

    >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> simsiam_loss(z, z, z, z)
    tensor(-1.)
    """
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


def byol_loss(q1: Tensor, q2: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
    """BYOL: ``mean(2 - 2 cos(q1, t2)) + mean(2 - 2 cos(q2, t1))``; ``q`` online predictions,
    ``t`` target projections (no gradient flows into them). From 0 (aligned) to 8 (opposite).

    >>> q = torch.tensor([[1.0, 0.0]])
    >>> byol_loss(q, q, -q, q)
    tensor(4.)
    """
    return (2 + 2 * negative_cosine(q1, t2)) + (2 + 2 * negative_cosine(q2, t1))


def _off_diagonal_sq(c: Tensor) -> Tensor:
    return (c.pow(2).sum() - c.diagonal().pow(2).sum()) / c.shape[0]


def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg: ``sim * MSE(z1, z2) + var * (v(z1) + v(z2)) / 2 + cov * (c(z1) + c(z2))``.

    ``v(z) = mean_j relu(1 - sqrt(Var(z_j) + eps))`` and ``c(z) = sum_{i != j} Cov(z)_ij**2 / D``.

    Raises:
        ValueError: fewer than 2 rows (a variance needs two) or shapes that differ.

    >>> z = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    >>> vicreg_loss(z, z)  # no variance hinge; Cov = -2 off the diagonal: 2 * (4 + 4) / 2
    tensor(8.)
    """
    _check_views("vicreg_loss", z1, z2)
    if z1.shape[0] < 2:
        raise ValueError(f"vicreg_loss needs at least 2 rows per view, got {z1.shape[0]}")
    invariance = F.mse_loss(z1, z2)
    variance = 0.5 * sum(F.relu(1 - torch.sqrt(z.var(dim=0) + eps)).mean() for z in (z1, z2))
    covariance = sum(_off_diagonal_sq(torch.cov(z.T)) for z in (z1, z2))
    return sim_weight * invariance + var_weight * variance + cov_weight * covariance  # type: ignore[return-value]


def barlow_twins_loss(z1: Tensor, z2: Tensor, lambd: float = 5e-3, eps: float = 1e-5) -> Tensor:
    """Barlow Twins: ``sum_i (1 - C_ii)**2 + lambd * sum_{i != j} C_ij**2``.

    ``C = z1n.T @ z2n / N`` is the ``(D, D)`` cross-correlation of the views, each standardised
    per dimension over the batch (mean 0, biased variance + ``eps``, as the paper's code's
    ``BatchNorm1d(affine=False)`` and lightly's ``BarlowTwinsLoss`` do); ``lambd`` weighs the
    redundancy reduction (the paper's 5e-3).

    Raises:
        ValueError: fewer than 2 rows (a batch standardisation needs two) or shapes that differ.

    >>> z = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    >>> round(float(barlow_twins_loss(z, z, lambd=1.0)), 3)  # C = [[1, -1], [-1, 1]]: 2 off-diagonal
    2.0
    """
    _check_views("barlow_twins_loss", z1, z2)
    if z1.shape[0] < 2:
        raise ValueError(f"barlow_twins_loss needs at least 2 rows per view, got {z1.shape[0]}")

    def standardise(z: Tensor) -> Tensor:
        return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + eps)

    c = standardise(z1).T @ standardise(z2) / z1.shape[0]
    on_diagonal = (torch.diagonal(c) - 1).pow(2).sum()
    return on_diagonal + lambd * (c.pow(2).sum() - torch.diagonal(c).pow(2).sum())
