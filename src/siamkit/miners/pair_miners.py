"""Pair mining for the contrastive loss.

A pair is ``(first, second, same)``; mined pairs are directional (``first`` is the anchor), so
``(i, j)`` and ``(j, i)`` can both be chosen. Strategies, with ``margin`` the triplet margin:

=============  ===============================================================================
``"all"``      every unordered pair ``i < j``, similar or not
``"hardest"``  per anchor: its farthest positive and its closest negative (each if it exists)
``"hard"``     the (anchor, positive) and (anchor, negative) pairs that take part in at least one
               hard triplet (``m < 0``): positives farther than the anchor's closest negative,
               negatives closer than its farthest positive
``"semihard"`` the pairs that take part in at least one semi-hard triplet (``0 < m < margin``)
``"easy"``     the pairs that take part in at least one easy triplet (``m > margin``)
=============  ===============================================================================

:func:`pair_selection` gives the choice as a ``(B, B)`` mask, which the contrastive loss reduces
directly; :func:`mine_pairs` lists the same pairs, row-major.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.miners._common import check_batch, check_strategy, distance_matrix, label_masks
from siamkit.miners.functional import check_margin
from siamkit.miners.windows import positive_coverage, triplet_windows
from siamkit.types import Pairs

PAIR_STRATEGIES = ("all", "hardest", "hard", "semihard", "easy")


def pair_selection(dist: Tensor, labels: Tensor, strategy: str, margin: float = 0.2) -> Tensor:
    """The pairs ``strategy`` chooses as a ``(B, B)`` bool mask (row = first). No gradient."""
    check_strategy(strategy, PAIR_STRATEGIES)
    margin = check_margin(margin)
    b = labels.shape[0]
    if dist.dim() != 2 or dist.shape != (b, b):
        raise ValueError(
            f"dist must be (B, B) with B = len(labels), got {tuple(dist.shape)} and {b}"
        )
    dist = dist.detach()
    if strategy == "all":
        return torch.ones(b, b, dtype=torch.bool, device=dist.device).triu(1)
    pos, neg = label_masks(labels, labels)
    return select_pairs(dist, pos, neg, strategy, margin)


def select_pairs(dist: Tensor, pos: Tensor, neg: Tensor, strategy: str, margin: float) -> Tensor:
    """``(A, R)`` bool mask of the pairs a non-"all" strategy chooses, from label masks ``(A, R)``."""
    if strategy == "hardest":
        rows = torch.arange(dist.shape[0], device=dist.device)
        sel = torch.zeros_like(pos)
        if dist.numel() == 0:  # an empty batch: no pairs (argmax has nothing to reduce)
            return sel
        has_p, has_n = pos.any(1), neg.any(1)
        sel[rows[has_p], dist.masked_fill(~pos, float("-inf")).argmax(1)[has_p]] = True
        sel[rows[has_n], dist.masked_fill(~neg, float("inf")).argmin(1)[has_n]] = True
        return sel
    sp, w, _ = triplet_windows(dist, pos, neg, strategy, margin)
    return (w.hi > w.lo) | (positive_coverage(sp, w) > 0)


def mine_pairs(
    embeddings: Tensor,
    labels: Tensor,
    strategy: str = "hardest",
    margin: float = 0.2,
    distance: str | Distance = "euclidean",
) -> Pairs:
    """Select pairs of a batch for the contrastive loss (see the module docstring).

    Args:
        embeddings: ``(B, D)``.
        labels: ``(B,)`` integer class ids.
        strategy: "all", "hardest", "hard", "semihard" or "easy".
        margin: the triplet margin that defines "semihard" and "easy".
        distance: a distance name or object.

    Returns:
        ``Pairs(first, second, same)``: ``(P,)`` LongTensors and a ``(P,)`` bool tensor.

    >>> z = torch.tensor([[0.0], [0.3], [0.1], [2.0]])
    >>> mine_pairs(z, torch.tensor([0, 0, 1, 1]), "hardest").first
    tensor([0, 0, 1, 1, 2, 2, 3, 3])
    """
    labels = check_batch(embeddings, labels)
    with torch.no_grad():
        dist = distance_matrix(embeddings.detach(), distance)
    sel = pair_selection(dist, labels, strategy, margin)
    first, second = sel.nonzero(as_tuple=True)
    return Pairs(first, second, labels[first] == labels[second])


@dataclass(frozen=True)
class PairMiner:
    """A pair-mining strategy with its settings, to pass around: ``PairMiner("hardest")(z, labels)``."""

    strategy: str = "hardest"
    margin: float = 0.2
    distance: str | Distance = "euclidean"

    def __post_init__(self) -> None:
        check_strategy(self.strategy, PAIR_STRATEGIES)
        check_margin(self.margin)

    def __call__(self, embeddings: Tensor, labels: Tensor) -> Pairs:
        return mine_pairs(embeddings, labels, self.strategy, self.margin, self.distance)

    def selection(self, dist: Tensor, labels: Tensor) -> Tensor:
        """``(B, B)`` bool mask of the chosen pairs from a precomputed distance matrix."""
        return pair_selection(dist, labels, self.strategy, self.margin)
