"""Generalized lifted structure loss (Hermans, Beyer, Leibe: "In Defense of the Triplet Loss for
Person Re-Identification", 2017, p. 4; a smooth form of Song et al.'s lifted structure, 2016).

Per anchor ``a``: ``relu(log sum_pos exp(d_ap - pos_margin) + log sum_neg exp(neg_margin - d_an))``,
a soft maximum over its positives' distances plus a soft maximum over its negatives' shortfalls,
averaged over the batch (pytorch-metric-learning's ``GeneralizedLiftedStructureLoss``).

>>> z = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
>>> GeneralizedLiftedStructureLoss()(z, torch.tensor([0, 0, 1, 1, 2, 2])).dim()
0
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from siamkit.distances import Distance, get_distance, training_matrix
from siamkit.losses.functional import _masked_logsumexp, at_least_float32, check_tensors
from siamkit.losses.indices import Indices, pair_masks
from siamkit.miners._common import check_batch, label_masks
from siamkit.params import ParamError, number


def generalized_lifted_structure_loss(
    dist: Tensor,
    labels: Tensor,
    neg_margin: float = 1.0,
    pos_margin: float = 0.0,
    pos_mask: Tensor | None = None,
    neg_mask: Tensor | None = None,
) -> Tensor:
    """The loss on a ``(B, B)`` distance matrix with ``(B,)`` labels.

    An anchor without positives (or negatives) gets 0 for that log-sum-exp, as in
    pytorch-metric-learning; every anchor counts in the mean. ``pos_mask`` / ``neg_mask``
    (``(B, B)`` bool, e.g. mined pairs) restrict the sums.

    >>> d = torch.tensor([[0.0, 0.5, 1.5], [0.5, 0.0, 0.2], [1.5, 0.2, 0.0]])
    >>> round(float(generalized_lifted_structure_loss(d, torch.tensor([0, 0, 1]))), 4)
    0.7803
    """
    check_tensors("generalized_lifted_structure_loss", dist=dist, labels=labels)
    if dist.dim() != 2 or dist.shape[0] != dist.shape[1] or dist.shape[0] != labels.shape[0]:
        raise ValueError(
            f"dist must be (B, B) with B = len(labels), got {tuple(dist.shape)} and "
            f"{tuple(labels.shape)}"
        )
    pos, neg = label_masks(labels, labels)  # (B, B) each, no self pairs
    pos = pos if pos_mask is None else pos & pos_mask
    neg = neg if neg_mask is None else neg & neg_mask
    per_anchor = _masked_logsumexp(dist - pos_margin, pos) + _masked_logsumexp(
        neg_margin - dist, neg
    )  # (B,)
    return torch.relu(per_anchor).mean() if labels.numel() else dist.sum() * 0.0


class GeneralizedLiftedStructureLoss(nn.Module):
    """Generalized lifted structure loss: each anchor's hardest positive and hardest negative,
    softly (log-sum-exp), with no mining needed.

    Args:
        neg_margin: negatives are pushed beyond this distance (greater than ``pos_margin``).
        pos_margin: positives are pulled within this distance (``>= 0``).
        distance: a distance name or ``Distance`` object (the run's model distance).

    ``forward(embeddings (B, D), labels (B,), indices=None) -> scalar``: mined ``indices``
    (pairs or triplets) restrict each anchor's sums to the mined pairs.
    """

    def __init__(
        self,
        neg_margin: float = 1.0,
        pos_margin: float = 0.0,
        distance: str | Distance = "euclidean",
    ) -> None:
        super().__init__()
        self.pos_margin = number("pos_margin", pos_margin, low=0, note="a distance; PML's 0")
        self.neg_margin = number("neg_margin", neg_margin, low=0, note="a distance; PML's 1")
        if self.neg_margin <= self.pos_margin:  # positives within, negatives beyond: a gap
            raise ParamError("neg_margin", neg_margin, f"greater than pos_margin ({pos_margin})")
        self.distance = get_distance(distance)

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` labels -> scalar loss."""
        labels = check_batch(embeddings, labels)
        pos, neg = (None, None) if indices is None else pair_masks(indices, labels)
        z = at_least_float32(embeddings)
        dist = training_matrix(self.distance, z, z)  # (B, B)
        return generalized_lifted_structure_loss(
            dist, labels, self.neg_margin, self.pos_margin, pos, neg
        )

    def extra_repr(self) -> str:
        return (
            f"neg_margin={self.neg_margin}, pos_margin={self.pos_margin}, "
            f"distance={self.distance.name!r}"
        )
