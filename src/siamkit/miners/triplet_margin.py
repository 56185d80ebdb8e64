"""pytorch-metric-learning's ``TripletMarginMiner``, with the same sets (inequalities and ties
included).

``triplet_margin`` keeps, with ``m = d(a, n) - d(a, p)`` over valid triplets:

=============  ==========================================================================
``"all"``      ``m <= margin`` (the triplets that violate the margin; not every triplet)
``"hard"``     ``m <= 0``
``"semihard"`` ``0 < m <= margin``
``"easy"``     ``m > margin``
=============  ==========================================================================

siamkit's own ``hard`` / ``semihard`` strategies use strict inequalities (``m < 0``,
``0 < m < margin``); the sets differ only on exact ties, so on continuous embeddings they agree
with these, and ``easy`` is the same set. PML's ``"all"`` is not siamkit's ``"all"`` (every
triplet). Like the window strategies, ``triplet_margin`` never builds a ``B x B x B`` tensor.

>>> z = torch.tensor([[0.0], [0.1], [0.25], [2.0]])
>>> TripletMarginMiner(0.2, "all")(z, torch.tensor([0, 0, 1, 1]))
Triplets(anchor=tensor([0, 1, 2, 2, 3]), positive=tensor([1, 0, 3, 3, 2]), negative=tensor([2, 2, 0, 1, 1]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.miners._common import check_batch, distance_matrix, label_masks
from siamkit.miners.functional import check_margin
from siamkit.miners.windows import (
    PositiveSearch,
    SortedPositives,
    Windows,
    count_diffs,
    emit_triplets,
    sort_positives,
)
from siamkit.params import choice
from siamkit.types import Triplets

TRIPLET_MARGIN_TYPES = ("all", "hard", "semihard", "easy")


def triplet_margin_windows(
    dist: Tensor, pos: Tensor, neg: Tensor, type_of_triplets: str, margin: float
) -> tuple[SortedPositives, Windows]:
    """The sorted positives and, per (anchor, negative), the window of their ranks a
    ``type_of_triplets`` keeps. ``(A, R)`` inputs, as in :mod:`siamkit.miners.windows`."""
    sp = sort_positives(dist, pos)
    # positives ascending: s - x falls with the rank, so "s - x > t" holds on a prefix of ranks
    above_zero, above_margin = count_diffs(PositiveSearch(sp), dist, [(0.0, True), (margin, True)])
    n_pos = sp.n_pos.to(torch.int32).unsqueeze(1).expand_as(dist)
    if type_of_triplets == "easy":
        lo, hi = torch.zeros_like(above_margin), above_margin
    elif type_of_triplets == "all":
        lo, hi = above_margin, n_pos
    elif type_of_triplets == "hard":
        lo, hi = above_zero, n_pos
    else:  # semihard: 0 < m <= margin; empty when margin <= 0
        lo, hi = above_margin, torch.maximum(above_zero, above_margin)
    return sp, Windows(lo, torch.where(neg, hi, lo))


@dataclass(frozen=True)
class TripletMarginMiner:
    """PML's ``TripletMarginMiner``: the triplets of ``type_of_triplets`` (module docstring).

    ``miner(z, labels) -> Triplets``; in a config ``loss.miner: {kind: triplet_margin, params:
    {margin: 0.2, type_of_triplets: all}}``.
    """

    margin: float = 0.2
    type_of_triplets: str = "all"
    distance: str | Distance = "euclidean"

    def __post_init__(self) -> None:
        check_margin(self.margin)
        choice("type_of_triplets", self.type_of_triplets, TRIPLET_MARGIN_TYPES)

    @torch.no_grad()
    def __call__(self, embeddings: Tensor, labels: Tensor) -> Triplets:
        labels = check_batch(embeddings, labels)
        dist = distance_matrix(embeddings.detach(), self.distance)
        pos, neg = label_masks(labels, labels)
        sp, w = triplet_margin_windows(dist, pos, neg, self.type_of_triplets, self.margin)
        return Triplets(*emit_triplets(sp, w))
