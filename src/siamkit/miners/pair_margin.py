"""pytorch-metric-learning's ``PairMarginMiner``: the pairs that violate their margin.

Positive pairs farther apart than ``pos_margin`` and negative pairs closer than ``neg_margin``
(distances; siamkit's are dissimilarities, cosine included): the pairs a contrastive loss with
those margins still penalises. Pairs are directional (``(i, j)`` and ``(j, i)`` are both listed),
as in PML, whose inequalities (strict on both sides) these are.

>>> z = torch.tensor([[0.0], [0.1], [0.3], [2.0]])
>>> PairMarginMiner(pos_margin=0.05, neg_margin=0.5)(z, torch.tensor([0, 0, 1, 1])).second
tensor([1, 2, 0, 2, 0, 1, 3, 2])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.miners._common import check_batch, distance_matrix, label_masks
from siamkit.params import number
from siamkit.types import Pairs


def pair_margin_selection(
    dist: Tensor, labels: Tensor, pos_margin: float, neg_margin: float
) -> Tensor:
    """``(B, B)`` bool mask of the pairs :class:`PairMarginMiner` keeps (row = first)."""
    pos, neg = label_masks(labels, labels)
    d = dist.detach()
    return (pos & (d > pos_margin)) | (neg & (d < neg_margin))


@dataclass(frozen=True)
class PairMarginMiner:
    """Pairs that violate their margin: positives with ``d > pos_margin``, negatives with
    ``d < neg_margin`` (distances; PML's defaults). ``miner(z, labels) -> Pairs``; in a config
    ``loss: {kind: contrastive, miner: {kind: pair_margin, params: {neg_margin: 1.0}}}``.
    """

    pos_margin: float = 0.2
    neg_margin: float = 0.8
    distance: str | Distance = "euclidean"

    def __post_init__(self) -> None:
        for name in ("pos_margin", "neg_margin"):
            number(name, getattr(self, name), note="a distance")

    @torch.no_grad()
    def __call__(self, embeddings: Tensor, labels: Tensor) -> Pairs:
        labels = check_batch(embeddings, labels)
        dist = distance_matrix(embeddings.detach(), self.distance)
        sel = pair_margin_selection(dist, labels, self.pos_margin, self.neg_margin)
        first, second = sel.nonzero(as_tuple=True)
        return Pairs(first, second, labels[first] == labels[second])
