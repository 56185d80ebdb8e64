"""Angular loss (Wang, Zhou, Wen, Liu, Lin: "Deep Metric Learning with Angular Loss", ICCV
2017), in its N-pair form: it bounds the angle at each negative ``n`` of the triangle it makes
with a positive pair ``(a, p)``, so the constraint scales with the pair's own distance.

Per positive pair ``(a, p)`` of L2-normalised embeddings:
``log(1 + sum_n exp(4 tan^2(alpha) (x_a + x_p) . x_n - 2 (1 + tan^2(alpha)) x_a . x_p))``, the
sum over the batch's items of another class, averaged over the positive pairs (the paper's
eq. 8; pytorch-metric-learning's ``AngularLoss``).

>>> import torch
>>> z = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
>>> AngularLoss(alpha=45)(z, torch.tensor([0, 0, 1, 1, 2, 2])).dim()
0
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.losses.functional import (
    _masked_logsumexp_plus_one,
    _mean_or_zero,
    at_least_float32,
    check_tensors,
)
from siamkit.losses.indices import Indices, pair_masks
from siamkit.miners._common import check_batch, label_masks
from siamkit.params import number


def check_alpha(alpha: object) -> float:
    """The angle bound ``alpha`` as a float: degrees strictly between 0 and 90 (``tan`` of it
    is the loss's scale), else a :class:`~siamkit.params.ParamError`."""
    return number("alpha", alpha, 0, 90, open_low=True, open_high=True, note="degrees; PML's 40")


def angular_loss(
    embeddings: Tensor, labels: Tensor, alpha: float = 40.0, pos_mask: Tensor | None = None
) -> Tensor:
    """The angular loss of ``(B, D)`` embeddings (L2-normalised inside) with ``(B,)`` labels.

    ``alpha`` is the bound on the angle at the negative, in degrees (the paper's 36 to 55).
    ``pos_mask`` (``(B, B)`` bool, row = anchor, e.g. mined pairs) restricts the positive pairs;
    the negatives are every item of another class. A pair without negatives adds 0 and counts
    in the mean; no positive pair gives 0 with a gradient.

    >>> import torch
    >>> z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> round(float(angular_loss(z, torch.tensor([0, 0, 1]), alpha=45)), 4)
    0.0181
    """
    check_tensors("angular_loss", embeddings=embeddings, labels=labels)
    alpha = check_alpha(alpha)
    z = F.normalize(at_least_float32(embeddings), dim=1)
    pos, neg = label_masks(labels, labels)  # (B, B) each, no self pairs
    pos = pos if pos_mask is None else pos & pos_mask
    a, p = pos.nonzero(as_tuple=True)  # (P,) each
    t = math.tan(math.radians(alpha)) ** 2
    ap = (z[a] * z[p]).sum(dim=1, keepdim=True)  # (P, 1)
    f = 4 * t * (z[a] + z[p]) @ z.T - 2 * (1 + t) * ap  # (P, B)
    return _mean_or_zero(_masked_logsumexp_plus_one(f, neg[a])) + z.sum() * 0.0


class AngularLoss(nn.Module):
    """Angular loss (Wang et al., 2017) over the positive pairs of a batch against all its
    negatives.

    Args:
        alpha: the angle bound at the negative, in degrees as in the paper (36 to 55; 40 is
            pytorch-metric-learning's default). Smaller is stricter.

    ``forward(embeddings (B, D), labels (B,), indices=None) -> scalar``: mined ``indices`` (pairs
    or triplets) restrict the positive pairs (each counted once); the negatives are the batch's
    items of another class, as in pytorch-metric-learning. Embeddings are L2-normalised inside.
    """

    def __init__(self, alpha: float = 40.0) -> None:
        super().__init__()
        self.alpha = check_alpha(alpha)

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` labels -> scalar loss."""
        labels = check_batch(embeddings, labels)
        pos = None if indices is None else pair_masks(indices, labels)[0]
        return angular_loss(embeddings, labels, self.alpha, pos)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"
