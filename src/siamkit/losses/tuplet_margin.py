"""Tuplet margin loss (Yu & Tao: "Deep Metric Learning with Tuplet Margin Loss", ICCV 2019): an
N-pair softmax on cosines where each positive's angle is shrunk by a margin ``beta``, with a
large scale ``s`` that down-weights easy negatives.

Per positive pair ``(a, p)``: ``log(1 + sum_n exp(s (cos(theta_an) - cos(theta_ap - beta))))``,
the sum over ``a``'s negatives, averaged over the positive pairs (the paper's eq. 6;
pytorch-metric-learning's ``TupletMarginLoss``, which takes the margin in degrees).

>>> import torch
>>> z = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
>>> TupletMarginLoss()(z, torch.tensor([0, 0, 1, 1, 2, 2])).dim()
0
"""

from __future__ import annotations

import math

import torch
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


def tuplet_margin_loss(
    embeddings: Tensor,
    labels: Tensor,
    margin: float = 0.1,
    scale: float = 64.0,
    pos_mask: Tensor | None = None,
    neg_mask: Tensor | None = None,
) -> Tensor:
    """The tuplet margin loss of ``(B, D)`` embeddings (L2-normalised inside), ``(B,)`` labels.

    ``margin`` is ``beta`` in radians (the paper's 0.1), ``scale`` is ``s`` (64).
    ``pos_mask`` / ``neg_mask`` (``(B, B)`` bool, row = anchor, e.g. mined pairs) restrict the
    pairs. A positive pair whose anchor has no negative adds 0 and counts in the mean; no
    positive pair gives 0 with a gradient. The positive's cosine is clamped inside
    ``(-1, 1)`` before its arccosine, in float32 (for half-precision embeddings, and for the
    half-precision cosines of a call inside ``torch.autocast``), so identical embeddings give
    a finite gradient. Under autocast the cosine matrix itself is still computed in half
    precision; call the loss outside autocast on ``z.float()`` for float32 matrices, as
    siamkit's trainers do (:func:`siamkit.losses.functional.at_least_float32`).

    >>> z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> round(float(tuplet_margin_loss(z, torch.tensor([0, 0, 1]), margin=0.0, scale=2.0)), 4)
    0.1269
    """
    check_tensors("tuplet_margin_loss", embeddings=embeddings, labels=labels)
    z = F.normalize(at_least_float32(embeddings), dim=1)
    cos = z @ z.T  # (B, B)
    pos, neg = label_masks(labels, labels)  # (B, B) each, no self pairs
    pos = pos if pos_mask is None else pos & pos_mask
    neg = neg if neg_mask is None else neg & neg_mask
    a, p = pos.nonzero(as_tuple=True)  # (P,) each
    theta = torch.acos(at_least_float32(cos[a, p]).clamp(-1 + 1e-7, 1 - 1e-7))
    x = scale * (cos[a] - torch.cos(theta - margin)[:, None])  # (P, B)
    return _mean_or_zero(_masked_logsumexp_plus_one(x, neg[a])) + cos.sum() * 0.0


class TupletMarginLoss(nn.Module):
    """Tuplet margin loss (Yu & Tao, 2019) over the pairs of a batch, on cosine similarities.

    Args:
        margin: ``beta``, the angle each positive is brought closer by, in radians (the paper's
            0.1; pytorch-metric-learning's ``TupletMarginLoss`` takes degrees, 5.73).
        scale: ``s``, the scale of the cosines (the paper's 64).

    ``forward(embeddings (B, D), labels (B,), indices=None) -> scalar``: mined ``indices`` (pairs
    or triplets) restrict the positive pairs and each anchor's negatives to the mined ones (each
    pair counted once). Embeddings are L2-normalised inside.
    """

    def __init__(self, margin: float = 0.1, scale: float = 64.0) -> None:
        super().__init__()
        self.margin = number("margin", margin, 0, math.pi / 2, open_high=True, note="radians")
        self.scale = number("scale", scale, low=0, open_low=True, note="the paper's 64")

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` labels -> scalar loss."""
        labels = check_batch(embeddings, labels)
        pos, neg = (None, None) if indices is None else pair_masks(indices, labels)
        return tuplet_margin_loss(embeddings, labels, self.margin, self.scale, pos, neg)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, scale={self.scale}"
