"""Triplet losses over given, mined or all triplets, computed from one ``(B, B)`` distance matrix.

For the window strategies ("hard", "semihard", "easy", "all") the mean of
``relu(d_ap - d_an + margin)`` over the selected set is computed without listing triplets: per
(anchor, positive) the selected negatives are a window of the anchor's sorted negative distances,
so the window's loss sum is ``k * (d_ap + margin) - sum(d_an)`` over the ``k`` negatives where the
hinge is active. Collecting those counts into one ``(B, B)`` weight matrix ``W`` gives
``loss = (sum(W * D) + margin * sum(k)) / T``, whose value and gradient are those of the explicit
triplet form; it costs ``O(B^2 log B)`` time and ``O(B^2)`` memory.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from siamkit.distances import Distance, get_distance
from siamkit.losses.functional import soft_margin_triplet_loss, triplet_margin_loss
from siamkit.miners._common import (
    TRIPLET_STRATEGIES,
    WINDOW_STRATEGIES,
    check_batch,
    check_strategy,
    label_masks,
)
from siamkit.miners.distance_weighted import distance_weighted_triplets
from siamkit.miners.functional import check_margin, mine_triplets_from_matrix
from siamkit.miners.triplet_miners import TripletMiner, is_window_miner
from siamkit.miners.windows import rank_coverage, triplet_windows, unsort
from siamkit.types import Triplets

Mining = str | TripletMiner | None


def window_triplet_margin_loss(
    dist: Tensor,
    labels: Tensor,
    strategy: str = "all",
    margin: float = 0.2,
    select_margin: float | None = None,
) -> Tensor:
    """Mean triplet margin loss over a window strategy's set, without building triplets.

    Args:
        dist: ``(B, B)`` distances of the batch with itself (gradients flow through it).
        labels: ``(B,)`` integer class ids.
        strategy: "hard", "semihard", "easy" or "all".
        margin: the hinge margin of the loss.
        select_margin: the margin that defines "semihard" / "easy" (default: ``margin``).

    Returns:
        A scalar; ``0.0`` with a gradient when the set is empty.
    """
    check_strategy(strategy, WINDOW_STRATEGIES)
    margin = check_margin(margin)
    select_margin = margin if select_margin is None else check_margin(select_margin)
    b = labels.shape[0]
    with torch.no_grad():
        pos, neg = label_masks(labels, labels)
        sn, w, search = triplet_windows(dist.detach(), pos, neg, strategy, select_margin)
        total = int((w.hi - w.lo).sum())
    if total == 0:
        return dist.sum() * 0.0
    with torch.no_grad():
        active = search.count_diff_below(w.d_ap, margin, strict=True)  # hinge > 0  <=>  m < margin
        end = torch.maximum(torch.minimum(w.hi, active), w.lo)
        k = end - w.lo  # active triplets per (anchor, positive)
        weight = -unsort(sn, rank_coverage(w.anchor, w.lo, end, (b, b))).to(dist.dtype)
        weight[w.anchor, w.positive] = k.to(dist.dtype)
        const = margin * float(k.sum())
    summed = (weight * dist).sum(dtype=torch.float64) + const
    return (summed / total).to(dist.dtype)


def _check_triplets(triplets: Triplets | tuple[Tensor, Tensor, Tensor], b: int) -> Triplets:
    if not isinstance(triplets, tuple) or len(triplets) != 3:
        raise TypeError(
            "triplets must be a Triplets (anchor, positive, negative) tuple of index tensors"
        )
    a, p, n = triplets
    for t in (a, p, n):
        if not isinstance(t, Tensor) or t.dim() != 1 or t.is_floating_point():
            raise TypeError("triplet indices must be 1-D integer tensors")
    if not a.shape == p.shape == n.shape:
        raise ValueError(
            f"anchor, positive, negative differ in length: {a.shape[0]}, {p.shape[0]}, {n.shape[0]}"
        )
    for t in (a, p, n):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= b):
            raise ValueError(f"triplet indices must lie in [0, {b}) for a batch of {b} embeddings")
    return Triplets(a.long(), p.long(), n.long())


def _same_distance(x: str | Distance, y: Distance) -> bool:
    return x is y or (isinstance(x, str) and x.lower() == getattr(y, "name", None))


class _TripletBase(nn.Module):
    """Shared parts: the distance, the mining choice, and turning it into triplets."""

    def __init__(self, distance: str | Distance, mining: Mining) -> None:
        super().__init__()
        self.distance = get_distance(distance)
        if isinstance(mining, str):
            check_strategy(mining, TRIPLET_STRATEGIES)
        elif mining is not None and not callable(mining):
            raise TypeError(
                f"mining must be a strategy name, a miner object or None, got {type(mining).__name__}"
            )
        self.mining = mining

    def _mine(self, embeddings: Tensor, labels: Tensor, dist: Tensor, margin: float) -> Triplets:
        m = self.mining
        if m is None:
            return mine_triplets_from_matrix(dist, labels, "all")
        if m == "distance_weighted":
            return distance_weighted_triplets(embeddings, labels, distance=self.distance)
        if isinstance(m, str):
            return mine_triplets_from_matrix(dist, labels, m, margin)
        return _check_triplets(m(embeddings, labels), labels.shape[0])

    def _fused_strategy(self, margin: float) -> tuple[str, float] | None:
        """(strategy, selection margin) when the set is a window set on this loss's distance."""
        m = self.mining
        if m is None:
            return "all", margin
        if isinstance(m, str):
            return (m, margin) if m in WINDOW_STRATEGIES else None
        if is_window_miner(m) and _same_distance(m.distance, self.distance):  # type: ignore[attr-defined]
            return m.strategy, m.margin  # type: ignore[attr-defined]
        return None


class TripletMarginLoss(_TripletBase):
    """Mean of ``relu(d_ap - d_an + margin)`` over given, mined, or all valid triplets (seed 000).

    Args:
        margin: the hinge margin (also the margin of ``mining="semihard"`` / ``"easy"``).
        distance: a distance name or ``Distance`` object (learned metrics train with the loss).
        mining: ``None`` (all valid triplets), a strategy name of
            :func:`siamkit.miners.mine_triplets`, or a miner object such as
            ``SemiHardMiner(margin=0.1)``. Window strategies are computed fused (no triplet list).

    ``forward(embeddings (B, D), labels (B,), triplets=None) -> scalar``; given ``triplets`` win
    over ``mining``. The value and gradient are the same either way.

    >>> from siamkit.miners import mine_triplets
    >>> z = torch.randn(16, 8, requires_grad=True)
    >>> y = torch.arange(16) % 4
    >>> fused = TripletMarginLoss(0.2, mining="semihard")(z, y)
    >>> listed = TripletMarginLoss(0.2)(z, y, mine_triplets(z, y, "semihard", margin=0.2))
    >>> bool(torch.isclose(fused, listed))
    True
    """

    def __init__(
        self, margin: float = 0.2, distance: str | Distance = "euclidean", mining: Mining = None
    ) -> None:
        super().__init__(distance, mining)
        self.margin = check_margin(margin)

    def forward(
        self, embeddings: Tensor, labels: Tensor, triplets: Triplets | None = None
    ) -> Tensor:
        labels = check_batch(embeddings, labels)
        dist = self.distance.matrix(embeddings, embeddings)  # (B, B)
        if triplets is None:
            fused = self._fused_strategy(self.margin)
            if fused is not None:
                return window_triplet_margin_loss(dist, labels, fused[0], self.margin, fused[1])
            triplets = self._mine(embeddings, labels, dist, self.margin)
        a, p, n = _check_triplets(triplets, labels.shape[0])
        return triplet_margin_loss(dist[a, p], dist[a, n], self.margin)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance.name!r}, mining={self.mining!r}"


class SoftMarginTripletLoss(_TripletBase):
    """Soft-margin triplet loss (Hermans et al., 2017): mean of ``softplus(d_ap - d_an)``.

    Usually paired with ``mining="batch_hard"``. Other strategies list their triplets first
    (memory grows with the set; ``mining_margin`` defines "semihard" / "easy").

    >>> loss = SoftMarginTripletLoss(mining="batch_hard")
    >>> float(loss(torch.randn(8, 4), torch.arange(8) % 2)) > 0
    True
    """

    def __init__(
        self,
        distance: str | Distance = "euclidean",
        mining: Mining = "batch_hard",
        mining_margin: float = 0.2,
    ) -> None:
        super().__init__(distance, mining)
        self.mining_margin = check_margin(mining_margin)

    def forward(
        self, embeddings: Tensor, labels: Tensor, triplets: Triplets | None = None
    ) -> Tensor:
        labels = check_batch(embeddings, labels)
        dist = self.distance.matrix(embeddings, embeddings)  # (B, B)
        if triplets is None:
            triplets = self._mine(embeddings, labels, dist.detach(), self.mining_margin)
        a, p, n = _check_triplets(triplets, labels.shape[0])
        return soft_margin_triplet_loss(dist[a, p], dist[a, n])

    def extra_repr(self) -> str:
        return f"distance={self.distance.name!r}, mining={self.mining!r}"
