"""Online triplet mining inside a batch: ``mine_triplets`` and its matrix form.

With ``m = d(a, n) - d(a, p)`` over valid triplets (``a != p`` with the same label, ``n`` with a
different label), the strategies are (DESIGN.md §3):

=================  ==========================================================================
``"hard"``         ``m < 0``
``"semihard"``     ``0 < m < margin``
``"easy"``         ``m > margin``
``"all"``          every valid triplet
``"batch_hard"``   per anchor its farthest positive and closest negative (Hermans et al., 2017);
                   anchors without a positive or a negative are skipped
``"random"``       ``per_anchor`` uniformly drawn valid triplets per anchor, reproducible with
                   ``generator``
``"distance_weighted"``  per (anchor, positive) a negative drawn by distance-weighted sampling
                   (Wu et al., 2017); see :mod:`siamkit.miners.distance_weighted`
=================  ==========================================================================

No strategy builds a ``B x B x B`` tensor: the window strategies sort each anchor's positives once
and read contiguous windows (:mod:`siamkit.miners.windows`); the output itself can still be large
(``"all"`` returns every valid triplet).
"""

from __future__ import annotations

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.miners._common import (
    TRIPLET_STRATEGIES,
    WINDOW_STRATEGIES,
    check_batch,
    check_strategy,
    distance_matrix,
    empty_long,
    label_masks,
)
from siamkit.miners.windows import emit_triplets, triplet_windows
from siamkit.params import count, number
from siamkit.types import Triplets


def check_margin(margin: float) -> float:
    """Return ``margin`` as a float if it is a finite number, else raise a ``ParamError``
    (a ``ValueError``)."""
    return number("margin", margin)


def batch_hard_triplets(dist: Tensor, pos: Tensor, neg: Tensor) -> Triplets:
    """Per anchor row: its farthest positive and closest negative (first one on ties). ``(A, R)``."""
    if dist.numel() == 0:  # an empty batch: no triplets (argmax has nothing to reduce)
        e = empty_long(dist.device)
        return Triplets(e, e.clone(), e.clone())
    has = pos.any(1) & neg.any(1)
    p = dist.masked_fill(~pos, float("-inf")).argmax(1)
    n = dist.masked_fill(~neg, float("inf")).argmin(1)
    a = torch.arange(dist.shape[0], device=dist.device)
    return Triplets(a[has], p[has], n[has])


def random_triplets(
    pos: Tensor, neg: Tensor, per_anchor: int = 1, generator: torch.Generator | None = None
) -> Triplets:
    """``per_anchor`` valid triplets per anchor row, uniform over (positive, negative), with replacement."""
    count("per_anchor", per_anchor)
    has = pos.any(1) & neg.any(1)
    if not bool(has.any()):
        e = empty_long(pos.device)
        return Triplets(e, e.clone(), e.clone())
    a = torch.arange(pos.shape[0], device=pos.device)[has]
    p = torch.multinomial(pos[has].float(), per_anchor, replacement=True, generator=generator)
    n = torch.multinomial(neg[has].float(), per_anchor, replacement=True, generator=generator)
    return Triplets(a.repeat_interleave(per_anchor), p.reshape(-1), n.reshape(-1))


def mine_triplets_from_matrix(
    dist: Tensor,
    labels: Tensor,
    strategy: str,
    margin: float = 0.2,
    *,
    per_anchor: int = 1,
    generator: torch.Generator | None = None,
) -> Triplets:
    """Mine triplets from a precomputed ``(B, B)`` distance matrix of the batch with itself.

    Same strategies as :func:`mine_triplets` except ``"distance_weighted"``, which needs the
    embeddings. Use this when the matrix is already computed (the losses do).
    """
    check_strategy(strategy, tuple(s for s in TRIPLET_STRATEGIES if s != "distance_weighted"))
    margin = check_margin(margin)
    if dist.dim() != 2 or dist.shape[0] != dist.shape[1] or dist.shape[0] != labels.shape[0]:
        raise ValueError(
            f"dist must be (B, B) with B = len(labels), got {tuple(dist.shape)} and {tuple(labels.shape)}"
        )
    dist = dist.detach()
    pos, neg = label_masks(labels, labels)
    if strategy == "batch_hard":
        return batch_hard_triplets(dist, pos, neg)
    if strategy == "random":
        return random_triplets(pos, neg, per_anchor, generator)
    sp, windows, _ = triplet_windows(dist, pos, neg, strategy, margin)
    return Triplets(*emit_triplets(sp, windows))


def mine_triplets(
    embeddings: Tensor,
    labels: Tensor,
    strategy: str,
    margin: float = 0.2,
    distance: str | Distance = "euclidean",
    **kw: object,
) -> Triplets:
    """Select triplets of a batch by ``strategy``; returns indices into ``embeddings``.

    Args:
        embeddings: ``(B, D)`` embeddings (no gradient flows through mining).
        labels: ``(B,)`` integer class ids.
        strategy: one of "hard", "semihard", "easy", "all", "batch_hard", "random",
            "distance_weighted" (see the module docstring for the exact sets).
        margin: the margin of "semihard" and "easy" (and the split point of "hard" is 0).
        distance: a name for :func:`siamkit.distances.get_distance` or a ``Distance`` object.
        **kw: ``per_anchor`` (int, "random"), ``generator`` (``torch.Generator``, "random" and
            "distance_weighted"), ``cutoff``, ``nonzero_loss_cutoff``, ``per_positive``
            ("distance_weighted").

    Returns:
        ``Triplets(anchor, positive, negative)``, each a ``(T,)`` LongTensor.

    >>> z = torch.tensor([[0.0], [0.1], [0.25], [2.0]])
    >>> mine_triplets(z, torch.tensor([0, 0, 1, 1]), "semihard", margin=0.2)
    Triplets(anchor=tensor([0, 1, 3]), positive=tensor([1, 0, 2]), negative=tensor([2, 2, 1]))
    """
    labels = check_batch(embeddings, labels)
    check_strategy(strategy, TRIPLET_STRATEGIES)
    if strategy == "distance_weighted":
        from siamkit.miners.distance_weighted import distance_weighted_triplets

        return distance_weighted_triplets(embeddings, labels, distance=distance, **kw)  # type: ignore[arg-type]
    allowed = {"per_anchor", "generator"}
    unknown = set(kw) - allowed
    if unknown:
        raise TypeError(f"unexpected arguments {sorted(unknown)} for strategy {strategy!r}")
    with torch.no_grad():
        dist = distance_matrix(embeddings.detach(), distance)
    return mine_triplets_from_matrix(dist, labels, strategy, margin, **kw)  # type: ignore[arg-type]


def all_triplet_count(labels: Tensor) -> int:
    """How many valid triplets a batch has: ``sum_a |P(a)| * |N(a)|`` (no triplets are built)."""
    _, counts = torch.unique(labels, return_counts=True)
    b = labels.shape[0]
    return int(((counts * (counts - 1)) * (b - counts)).sum())


__all__ = [
    "TRIPLET_STRATEGIES",
    "WINDOW_STRATEGIES",
    "all_triplet_count",
    "batch_hard_triplets",
    "check_margin",
    "mine_triplets",
    "mine_triplets_from_matrix",
    "random_triplets",
]
