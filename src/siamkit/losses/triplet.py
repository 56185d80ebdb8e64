"""Triplet losses over given, mined or all triplets, computed from one ``(B, B)`` distance matrix.

For the window strategies ("hard", "semihard", "easy", "all") the mean of
``relu(d_ap - d_an + margin)`` over the selected set is computed without listing triplets: per
(anchor, negative) the selected positives are a window of the anchor's sorted positive distances
(:mod:`siamkit.miners.windows`), so each distance's total weight in the loss is a count: a
positive enters with ``+1`` per active triplet it is in, a negative with ``-1``. Collecting those counts into one ``(B, B)`` weight matrix ``W`` gives
``loss = (sum(W * D) + margin * A) / T`` (``A`` active and ``T`` selected triplets), whose value and gradient are those of the explicit
triplet form; it costs ``O(B^2 log K)`` time (``K`` positives per anchor) and ``O(B^2)`` memory.

Half-precision (bfloat16, float16) embeddings are taken to float32 for the distances and the sums:
a distance read by hundreds of triplets has its gradient summed from hundreds of shares, which
bfloat16's 8 bits would mostly lose. The loss is float32; the gradient reaches the embeddings in
their own dtype. Inside ``torch.autocast`` the embeddings are float32 already and autocast still
computes the distance matrix in half precision (the batch-hard gradient about 9% off float32's):
call the loss outside autocast on ``z.float()``, as siamkit's trainers do.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from siamkit.distances import Distance, get_distance, training_matrix
from siamkit.losses.functional import (
    at_least_float32,
    check_reduction,
    soft_margin_triplet_loss,
    triplet_margin_loss,
)
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
from siamkit.miners.weighted_sum import analytic_kind, weighted_distance_sum
from siamkit.miners.windows import hinge_active, positive_coverage, triplet_windows
from siamkit.params import number
from siamkit.types import Pairs, Triplets

Mining = str | TripletMiner | None


def _matrix_and_weighted_sum(
    embeddings: Tensor, dist_fn: Distance
) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """The detached ``(B, B)`` matrix and ``W -> sum(W * D)`` (float64) carrying the gradient."""
    kind = analytic_kind(dist_fn)
    if kind is None:  # generic: autograd through the matrix
        dist = training_matrix(dist_fn, embeddings, embeddings)  # (B, B)
        return dist.detach(), lambda w: (w * dist).sum(dtype=torch.float64)
    with torch.no_grad():  # stock Euclidean: no graph; weighted_distance_sum writes the gradient
        zd = embeddings.detach()
        d = training_matrix(dist_fn, zd, zd)
    return d, lambda w: weighted_distance_sum(embeddings, w, d, kind)


def window_triplet_margin_loss(
    embeddings: Tensor,
    labels: Tensor,
    strategy: str = "all",
    margin: float = 0.2,
    select_margin: float | None = None,
    distance: str | Distance = "euclidean",
    reduction: str = "mean",
) -> Tensor:
    """Mean triplet margin loss over a window strategy's set, without building triplets.

    Args:
        embeddings: ``(B, D)`` embeddings.
        labels: ``(B,)`` integer class ids.
        strategy: "hard", "semihard", "easy" or "all".
        margin: the hinge margin of the loss.
        select_margin: the margin that defines "semihard" / "easy" (default: ``margin``).
        distance: a distance name or object.
        reduction: ``"mean"`` over the selected set, or ``"nonzero"`` over its triplets with a
            positive hinge (see :func:`siamkit.losses.functional.triplet_margin_loss`).

    Returns:
        A scalar; ``0.0`` with a gradient when the set is empty.
    """
    check_strategy(strategy, WINDOW_STRATEGIES)
    margin = check_margin(margin)
    nonzero = check_reduction(reduction) == "nonzero"
    embeddings = at_least_float32(embeddings)  # a bfloat16 distance matrix and its counts are off
    select_margin = margin if select_margin is None else check_margin(select_margin)
    d, weighted_sum = _matrix_and_weighted_sum(embeddings, get_distance(distance))
    with torch.no_grad():
        pos, neg = label_masks(labels, labels)
        same_margin = strategy == "semihard" and select_margin == margin
        sp, w, first = triplet_windows(
            d, pos, neg, strategy, select_margin, None if same_margin else margin
        )
        total = int((w.hi - w.lo).sum(dtype=torch.int64))
    if total == 0:
        return weighted_sum(torch.zeros_like(d)).to(d.dtype)
    with torch.no_grad():
        act = w if first is None else hinge_active(w, first)  # semihard: every triplet is active
        k_neg = act.hi - act.lo  # active triplets per (anchor, negative)
        weight = (positive_coverage(sp, act) - k_neg).to(d.dtype)  # (B, B): +k_ap, -k_an
        active = int(k_neg.sum(dtype=torch.int64))
        const = margin * float(active)
    summed = weighted_sum(weight)
    return ((summed + const) / (max(active, 1) if nonzero else total)).to(d.dtype)


def _check_triplets(triplets: Triplets | tuple[Tensor, Tensor, Tensor], b: int) -> Triplets:
    if isinstance(triplets, Pairs):
        raise TypeError("a triplet loss needs Triplets (anchor, positive, negative), got Pairs")
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

    def _mine(self, embeddings: Tensor, labels: Tensor, margin: float) -> Triplets:
        m = self.mining
        if m == "distance_weighted":
            return distance_weighted_triplets(embeddings, labels, distance=self.distance)
        if m is None or isinstance(m, str):
            with torch.no_grad():  # float32 for half precision, where distances tie by the dozen
                z = at_least_float32(embeddings.detach())
                dist = training_matrix(self.distance, z, z)
            return mine_triplets_from_matrix(dist, labels, m or "all", margin)
        return _check_triplets(m(embeddings, labels), labels.shape[0])

    def _triplet_distances(self, z: Tensor, t: Triplets) -> tuple[Tensor, Tensor]:
        """``(d_ap, d_an)``: from the pairs themselves for a short list (``T * D <= B^2``), else
        from the ``(B, B)`` matrix; in float32 for half-precision embeddings, whose gradient
        would otherwise sum each distance's shares of many triplets in bfloat16 (13% of its
        norm off with 40 items a class, 46% with 100)."""
        b, dim = z.shape
        z = at_least_float32(z)
        a, p, n = t
        if a.shape[0] * dim <= b * b:
            return self.distance.pairwise(z[a], z[p]), self.distance.pairwise(z[a], z[n])
        dist = training_matrix(self.distance, z, z)  # (B, B)
        return dist[a, p], dist[a, n]

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
        reduction: ``"mean"`` over the triplets, or ``"nonzero"`` over those with a positive
            hinge (pytorch-metric-learning's default ``AvgNonZeroReducer``).

    ``forward(embeddings (B, D), labels (B,), indices=None) -> scalar``; given ``indices``
    (:class:`~siamkit.types.Triplets` from a miner) win over ``mining``. The value and gradient are the same either way.

    >>> from siamkit.miners import mine_triplets
    >>> z = torch.randn(16, 8, requires_grad=True)
    >>> y = torch.arange(16) % 4
    >>> fused = TripletMarginLoss(0.2, mining="semihard")(z, y)
    >>> listed = TripletMarginLoss(0.2)(z, y, mine_triplets(z, y, "semihard", margin=0.2))
    >>> bool(torch.isclose(fused, listed))
    True
    """

    def __init__(
        self,
        margin: float = 0.2,
        distance: str | Distance = "euclidean",
        mining: Mining = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(distance, mining)
        self.margin = number("margin", margin, low=0, note="a distance; FaceNet's 0.2")
        self.reduction = check_reduction(reduction)

    def forward(
        self, embeddings: Tensor, labels: Tensor, indices: Triplets | None = None
    ) -> Tensor:
        labels = check_batch(embeddings, labels)
        triplets = indices
        if triplets is None:
            fused = self._fused_strategy(self.margin)
            if fused is not None:
                strategy, select = fused
                return window_triplet_margin_loss(
                    embeddings, labels, strategy, self.margin, select, self.distance, self.reduction
                )
            triplets = self._mine(embeddings, labels, self.margin)
        d_ap, d_an = self._triplet_distances(embeddings, _check_triplets(triplets, labels.shape[0]))
        return triplet_margin_loss(d_ap, d_an, self.margin, self.reduction)

    def extra_repr(self) -> str:
        return (
            f"margin={self.margin}, distance={self.distance.name!r}, mining={self.mining!r}, "
            f"reduction={self.reduction!r}"
        )


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
        self, embeddings: Tensor, labels: Tensor, indices: Triplets | None = None
    ) -> Tensor:
        labels = check_batch(embeddings, labels)
        triplets = indices
        if triplets is None:
            triplets = self._mine(embeddings, labels, self.mining_margin)
        d_ap, d_an = self._triplet_distances(embeddings, _check_triplets(triplets, labels.shape[0]))
        return soft_margin_triplet_loss(d_ap, d_an)

    def extra_repr(self) -> str:
        return f"distance={self.distance.name!r}, mining={self.mining!r}"
