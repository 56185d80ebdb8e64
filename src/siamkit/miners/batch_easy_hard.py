"""Batch easy-hard mining: per anchor one positive and one negative, each by its own rule
(pytorch-metric-learning's ``BatchEasyHardMiner``; Xuan, Stylianou, Pless: "Improved Embeddings
with Easy Positive Triplet Mining", WACV 2020).

For each anchor, with ``d`` the distance (siamkit distances are dissimilarities, so "closest" is
the smallest ``d`` for every metric, cosine included):

=============  ==============================  ==============================================
strategy       positive                        negative
=============  ==============================  ==============================================
``"easy"``     the closest positive            the farthest negative
``"hard"``     the farthest positive           the closest negative
``"semihard"`` the farthest positive closer    the closest negative farther than the chosen
               than the chosen negative        positive
``"all"``      every positive                  every negative
=============  ==============================  ==============================================

The default, easy positive with semi-hard negative, is the paper's EPSHN. ``"semihard"`` needs the
other side to be a single choice (not ``"semihard"`` nor ``"all"``). ``pos_range`` /
``neg_range`` (``(low, high)``, inclusive, in distance units) restrict which pairs may be chosen;
an anchor left without a positive or a negative is skipped. The result is always
:class:`~siamkit.types.Triplets`: one per anchor, or with ``"all"`` on one side every pair of that
side combined with the anchor's choice on the other (PML returns the pairs; its triplet losses
combine them the same way).

>>> z = torch.tensor([[0.0], [0.1], [0.55], [0.3], [1.0]])
>>> batch_easy_hard_triplets(z, torch.tensor([0, 0, 0, 1, 1]), "easy", "hard")
Triplets(anchor=tensor([0, 1, 2, 3, 4]), positive=tensor([1, 0, 1, 4, 3]), negative=tensor([3, 3, 3, 1, 2]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.miners._common import check_batch, distance_matrix, label_masks
from siamkit.miners.windows import emit_triplets, triplet_windows
from siamkit.params import ParamError, choice, number
from siamkit.types import Triplets

EASY_HARD_STRATEGIES = ("easy", "semihard", "hard", "all")

Range = tuple[float, float]


def check_easy_hard(pos_strategy: str, neg_strategy: str) -> None:
    """Raise ``ValueError`` for an unknown strategy or a combination that defines nothing."""
    for side, s in (("pos_strategy", pos_strategy), ("neg_strategy", neg_strategy)):
        choice(side, s, EASY_HARD_STRATEGIES)
    if pos_strategy == neg_strategy == "semihard":
        raise ValueError(
            "pos_strategy and neg_strategy cannot both be 'semihard' (each is relative to the "
            "other's choice); make one of them easy or hard"
        )
    if "semihard" in (pos_strategy, neg_strategy) and "all" in (pos_strategy, neg_strategy):
        raise ValueError(
            "'semihard' is relative to a single choice on the other side, not 'all'; "
            "make the other side easy or hard"
        )


def check_range(name: str, value: Sequence[float] | None) -> Range | None:
    """``None`` or a ``(low, high)`` pair of finite numbers with ``low <= high``, as a tuple."""
    if value is None:
        return None
    valid = "[low, high] of finite numbers with low <= high (distances)"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ParamError(name, value, valid)
    try:
        low, high = number(name, value[0]), number(name, value[1])
    except ParamError:  # the whole pair is named, not one end
        raise ParamError(name, value, valid) from None
    if low > high:
        raise ParamError(name, value, valid)
    return low, high


def _pick(dist: Tensor, mask: Tensor, closest: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Per row the closest (or farthest) masked column: ``(column, its distance, row has one)``."""
    fill = float("inf") if closest else float("-inf")
    if dist.shape[1] == 0:  # an empty batch: no column to pick (min() has nothing to reduce)
        rows = dist.shape[0]
        none = torch.zeros(rows, dtype=torch.long, device=dist.device)
        return none, torch.full((rows,), fill, dtype=dist.dtype, device=dist.device), mask.any(1)
    masked = dist.masked_fill(~mask, fill)
    values, cols = masked.min(1) if closest else masked.max(1)
    return cols, values, mask.any(1)


def easy_hard_from_matrix(
    dist: Tensor,
    pos: Tensor,
    neg: Tensor,
    pos_strategy: str = "easy",
    neg_strategy: str = "semihard",
    pos_range: Range | None = None,
    neg_range: Range | None = None,
) -> Triplets:
    """The triplets of :func:`batch_easy_hard_triplets` from an ``(A, R)`` distance matrix and
    its positive / negative masks (columns index the references)."""
    check_easy_hard(pos_strategy, neg_strategy)
    dist = dist.detach()
    if pos_range is not None:
        pos = pos & (dist >= pos_range[0]) & (dist <= pos_range[1])
    if neg_range is not None:
        neg = neg & (dist >= neg_range[0]) & (dist <= neg_range[1])
    if pos_strategy == neg_strategy == "all":
        sp, w, _ = triplet_windows(dist, pos, neg, "all", 0.0)
        return Triplets(*emit_triplets(sp, w))
    # "easy" negative is the farthest, "hard" the closest; a positive the other way round
    if pos_strategy == "semihard":
        n, n_d, has_n = _pick(dist, neg, closest=neg_strategy == "hard")
        p, _, has_p = _pick(dist, pos & (dist < n_d.unsqueeze(1)), closest=False)
    elif neg_strategy == "semihard":
        p, p_d, has_p = _pick(dist, pos, closest=pos_strategy == "easy")
        n, _, has_n = _pick(dist, neg & (dist > p_d.unsqueeze(1)), closest=True)
    else:
        if pos_strategy != "all":
            p, _, has_p = _pick(dist, pos, closest=pos_strategy == "easy")
        if neg_strategy != "all":
            n, _, has_n = _pick(dist, neg, closest=neg_strategy == "hard")
    if pos_strategy == "all":
        a, p_all = (pos & has_n.unsqueeze(1)).nonzero(as_tuple=True)
        return Triplets(a, p_all, n[a])
    if neg_strategy == "all":
        a, n_all = (neg & has_p.unsqueeze(1)).nonzero(as_tuple=True)
        return Triplets(a, p[a], n_all)
    a = (has_p & has_n).nonzero(as_tuple=True)[0]
    return Triplets(a, p[a], n[a])


def batch_easy_hard_triplets(
    embeddings: Tensor,
    labels: Tensor,
    pos_strategy: str = "easy",
    neg_strategy: str = "semihard",
    distance: str | Distance = "euclidean",
    pos_range: Sequence[float] | None = None,
    neg_range: Sequence[float] | None = None,
) -> Triplets:
    """Per anchor a positive chosen by ``pos_strategy`` and a negative by ``neg_strategy``.

    Args:
        embeddings: ``(B, D)`` (no gradient flows through mining).
        labels: ``(B,)`` integer class ids.
        pos_strategy, neg_strategy: "easy", "semihard", "hard" or "all" (module docstring).
        distance: a distance name or object.
        pos_range, neg_range: ``(low, high)``: only pairs at a distance in ``[low, high]`` may be
            chosen.

    Returns:
        ``Triplets(anchor, positive, negative)``, each a ``(T,)`` LongTensor.
    """
    labels = check_batch(embeddings, labels)
    check_easy_hard(pos_strategy, neg_strategy)
    pr, nr = check_range("pos_range", pos_range), check_range("neg_range", neg_range)
    with torch.no_grad():
        dist = distance_matrix(embeddings.detach(), distance)
        pos, neg = label_masks(labels, labels)
        return easy_hard_from_matrix(dist, pos, neg, pos_strategy, neg_strategy, pr, nr)


@dataclass(frozen=True)
class BatchEasyHardMiner:
    """Batch easy-hard mining as an object: ``BatchEasyHardMiner("easy", "hard")(z, labels)``.

    See :func:`batch_easy_hard_triplets`; in a config ``loss.miner: {kind: batch_easy_hard,
    params: {pos_strategy: easy, neg_strategy: hard}}``.
    """

    pos_strategy: str = "easy"
    neg_strategy: str = "semihard"
    distance: str | Distance = "euclidean"
    pos_range: Sequence[float] | None = None
    neg_range: Sequence[float] | None = None

    def __post_init__(self) -> None:
        check_easy_hard(self.pos_strategy, self.neg_strategy)
        object.__setattr__(self, "pos_range", check_range("pos_range", self.pos_range))
        object.__setattr__(self, "neg_range", check_range("neg_range", self.neg_range))

    def __call__(self, embeddings: Tensor, labels: Tensor) -> Triplets:
        return batch_easy_hard_triplets(
            embeddings, labels, self.pos_strategy, self.neg_strategy, self.distance,
            self.pos_range, self.neg_range,
        )  # fmt: skip
