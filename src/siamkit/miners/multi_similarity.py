"""The multi-similarity pair miner (Wang et al., 2019; pytorch-metric-learning's ``MultiSimilarityMiner``).

Similarity is ``1 - distance`` (the cosine similarity for the cosine distance). For each anchor a
positive pair is kept when its similarity is below the anchor's hardest (most similar) negative
plus ``epsilon``; a negative pair when its similarity is above the anchor's hardest (least similar)
positive minus ``epsilon``. The pairs are directional: ``(i, j)`` and ``(j, i)`` are both listed.

>>> z = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
>>> pairs = MultiSimilarityMiner(epsilon=0.1)(z, torch.arange(8) % 4)
>>> bool((pairs.first != pairs.second).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.miners._common import check_batch, distance_matrix, label_masks
from siamkit.params import number
from siamkit.types import Pairs


def multi_similarity_masks(sim: Tensor, labels: Tensor, epsilon: float) -> tuple[Tensor, Tensor]:
    """Kept positive and negative pairs of a ``(B, B)`` similarity matrix, both ``(B, B)`` bool."""
    pos, neg = label_masks(labels, labels)
    if sim.shape[1] == 0:  # an empty batch: no pairs (amin() has nothing to reduce)
        return pos, neg
    s = sim.detach()
    hardest_pos = s.masked_fill(~pos, float("inf")).amin(1, keepdim=True)  # (B, 1)
    hardest_neg = s.masked_fill(~neg, float("-inf")).amax(1, keepdim=True)  # (B, 1)
    return pos & (s - epsilon < hardest_neg), neg & (s + epsilon > hardest_pos)


@dataclass(frozen=True)
class MultiSimilarityMiner:
    """Mine informative pairs for the multi-similarity loss: ``miner(z, labels) -> Pairs``.

    Args:
        epsilon: how far past the hardest pair of the other kind a pair may be and still count.
        distance: a distance name or object; similarity is ``1 - distance``.
    """

    epsilon: float = 0.1
    distance: str | Distance = "cosine"

    def __post_init__(self) -> None:
        number("epsilon", self.epsilon, low=0, note="a similarity; the paper's 0.1")

    @torch.no_grad()
    def __call__(self, embeddings: Tensor, labels: Tensor) -> Pairs:
        labels = check_batch(embeddings, labels)
        z = embeddings.detach()
        sim = 1.0 - distance_matrix(z, self.distance)  # (B, B)
        pos, neg = multi_similarity_masks(sim, labels, self.epsilon)
        first, second = (pos | neg).nonzero(as_tuple=True)
        return Pairs(first, second, labels[first] == labels[second])
