"""Contrastive loss (Hadsell, Chopra, LeCun 2006; seed 001) over all, given or mined pairs.

``contrastive_loss(d, same, margin) = mean(same * d^2 + (1 - same) * relu(margin - d)^2)``. Over a
batch the chosen pairs are a ``(B, B)`` mask of the distance matrix, so all or mined pairs reduce
with one masked sum; the value and gradient equal those of listing the pairs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.distances import Distance, get_distance, training_matrix
from siamkit.losses.functional import at_least_float32, contrastive_loss
from siamkit.losses.indices import Indices, as_pairs
from siamkit.miners._common import check_batch, check_strategy
from siamkit.miners.pair_miners import PAIR_STRATEGIES, PairMiner, pair_selection
from siamkit.params import number
from siamkit.types import Pairs


def masked_contrastive_loss(
    dist: Tensor, same: Tensor, selected: Tensor, margin: float = 1.0
) -> Tensor:
    """Mean contrastive loss over the ``selected`` entries of a ``(B, B)`` distance matrix.

    Args:
        dist: ``(B, B)`` distances.
        same: ``(B, B)`` bool, True where the two items share a label.
        selected: ``(B, B)`` bool, the pairs to average over.
        margin: dissimilar pairs farther apart than this cost nothing.
    """
    count = int(selected.sum())
    if count == 0:
        return dist.sum() * 0.0
    per_pair = torch.where(same, dist.pow(2), F.relu(margin - dist).pow(2))  # (B, B)
    total = torch.where(selected, per_pair, torch.zeros_like(per_pair)).sum(dtype=torch.float64)
    return (total / count).to(dist.dtype)


class ContrastiveLoss(nn.Module):
    """Contrastive loss over all pairs ``i < j`` of a batch, given pairs, or mined pairs.

    Args:
        margin: dissimilar pairs farther apart than this cost nothing.
        distance: a distance name or ``Distance`` object.
        mining: ``None`` (all pairs ``i < j``), a pair strategy name of
            :func:`siamkit.miners.mine_pairs` (triplet margin 0.2), or a ``PairMiner``.

    The hinges are squared and averaged over every chosen pair, as in Hadsell et al.;
    pytorch-metric-learning's ``ContrastiveLoss`` (``pos_margin=0, neg_margin=1``) differs: its
    hinges are not squared, and the positive and negative pairs are each averaged over their
    non-zero terms and the two means added, so the same pairs give another value.

    ``forward(embeddings (B, D), labels (B,), indices=None)`` with mined ``indices``
    (:class:`~siamkit.types.Pairs`, or ``Triplets`` read as their pairs); :meth:`from_pairs` takes the classic
    two-branch batch ``(z1, z2, same)``.

    >>> z, y = torch.randn(8, 4), torch.arange(8) % 2
    >>> ContrastiveLoss(margin=1.0, mining="hardest")(z, y).shape
    torch.Size([])
    """

    def __init__(
        self,
        margin: float = 1.0,
        distance: str | Distance = "euclidean",
        mining: str | PairMiner | None = None,
    ) -> None:
        super().__init__()
        self.margin = number("margin", margin, low=0, note="a distance")
        self.distance = get_distance(distance)
        if isinstance(mining, str):
            check_strategy(mining, PAIR_STRATEGIES)
        elif mining is not None and not callable(mining):
            raise TypeError(
                f"mining must be a pair strategy name, a PairMiner or None, got {type(mining).__name__}"
            )
        self.mining = mining

    def _selection(self, embeddings: Tensor, labels: Tensor, dist: Tensor) -> Tensor | Pairs:
        m = self.mining
        if m is None:
            return pair_selection(dist, labels, "all")
        if isinstance(m, str):
            return pair_selection(dist, labels, m)
        if isinstance(m, PairMiner) and (
            m.distance is self.distance or m.distance == self.distance.name
        ):
            return m.selection(dist, labels)
        return as_pairs(m(embeddings, labels), labels)

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        labels = check_batch(embeddings, labels)
        z = at_least_float32(embeddings)  # the pairs are chosen and summed from this matrix
        dist = training_matrix(self.distance, z, z)  # (B, B)
        chosen = (
            as_pairs(indices, labels)
            if indices is not None
            else self._selection(embeddings, labels, dist)
        )
        if isinstance(chosen, Pairs):
            return contrastive_loss(dist[chosen.first, chosen.second], chosen.same, self.margin)
        same = labels.unsqueeze(1) == labels.unsqueeze(0)
        return masked_contrastive_loss(dist, same, chosen, self.margin)

    def from_pairs(self, z1: Tensor, z2: Tensor, same: Tensor) -> Tensor:
        """The classic pair batch: row ``i`` of ``z1`` and ``z2`` form a pair. ``(N, D), (N, D), (N,)``."""
        return contrastive_loss(self.distance.pairwise(z1, z2), same, self.margin)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance.name!r}, mining={self.mining!r}"
