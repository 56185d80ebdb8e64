"""BCE over the pairs of a labelled batch, scored by a learned pair head (Koch et al., 2015).

This is the label-based face of the pair contract: :class:`~siamkit.losses.PairBCELoss` takes
``(logits (N,), same (N,))`` of pairs you built; :class:`PairHeadLoss` builds the pairs of a batch
(all ``i < j``, or mined ``indices``) and scores them with the head.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from siamkit.distances import MLPMetric
from siamkit.losses.functional import pair_bce_loss
from siamkit.losses.indices import Indices, as_pairs
from siamkit.miners._common import check_batch
from siamkit.params import number


class PairHeadLoss(nn.Module):
    """``forward(embeddings (B, D), labels (B,), indices=None) -> scalar`` BCE of a learned head.

    Args:
        head: the model's :class:`~siamkit.distances.MLPMetric` (trains with the loss).
        pos_weight: weight of similar pairs; ``None`` balances them by their counts in the batch.

    >>> head = MLPMetric(4)
    >>> PairHeadLoss(head)(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2])).dim()
    0
    """

    def __init__(self, head: MLPMetric, pos_weight: float | None = None) -> None:
        super().__init__()
        if not isinstance(head, MLPMetric):
            raise TypeError(
                "the pair-head loss needs the model's distance to be an MLPMetric head (model.distance: mlp)"
            )
        if pos_weight is not None:
            note = "or None / null to balance by counts"
            pos_weight = number("pos_weight", pos_weight, low=0, open_low=True, note=note)
        self.head, self.pos_weight = head, pos_weight

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        labels = check_batch(embeddings, labels)
        if indices is None:
            b = embeddings.shape[0]
            i, j = torch.triu_indices(b, b, offset=1, device=embeddings.device)
            same = labels[i] == labels[j]
        else:
            i, j, same = as_pairs(indices, labels)
        weight = self.pos_weight
        if weight is None:
            n_pos = int(same.sum())
            weight = (same.numel() - n_pos) / max(n_pos, 1)
        return pair_bce_loss(self.head.logits(embeddings[i], embeddings[j]), same, weight)
