"""Small miner objects users pass around: ``SemiHardMiner(margin=0.2)(z, labels) -> Triplets``.

Each is a frozen dataclass holding a strategy's settings; calling it runs
:func:`siamkit.miners.mine_triplets`. They are not ``nn.Module`` s (they have nothing to learn) and
work with any distance. :class:`siamkit.losses.TripletMarginLoss` accepts one as ``mining=``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.miners._common import TRIPLET_STRATEGIES, WINDOW_STRATEGIES, check_strategy
from siamkit.miners.distance_weighted import check_sampling, distance_weighted_triplets
from siamkit.miners.functional import check_margin, mine_triplets
from siamkit.params import count
from siamkit.types import Triplets


@runtime_checkable
class TripletMiner(Protocol):
    """Anything that maps ``(embeddings (B, D), labels (B,))`` to :class:`~siamkit.types.Triplets`."""

    def __call__(self, embeddings: Tensor, labels: Tensor) -> Triplets: ...


@dataclass(frozen=True)
class _WindowMiner:
    margin: float = 0.2
    distance: str | Distance = "euclidean"
    strategy: ClassVar[str] = "all"

    def __post_init__(self) -> None:
        check_margin(self.margin)

    def __call__(self, embeddings: Tensor, labels: Tensor) -> Triplets:
        return mine_triplets(embeddings, labels, self.strategy, self.margin, self.distance)


@dataclass(frozen=True)
class HardMiner(_WindowMiner):
    """All triplets with ``d(a, n) < d(a, p)`` (``m < 0``)."""

    strategy: ClassVar[str] = "hard"


@dataclass(frozen=True)
class SemiHardMiner(_WindowMiner):
    """All triplets with ``0 < d(a, n) - d(a, p) < margin`` (FaceNet's semi-hard negatives).

    >>> z = torch.tensor([[0.0], [0.1], [0.25], [2.0]])
    >>> SemiHardMiner(margin=0.2)(z, torch.tensor([0, 0, 1, 1])).negative
    tensor([2, 2, 1])
    """

    strategy: ClassVar[str] = "semihard"


@dataclass(frozen=True)
class EasyMiner(_WindowMiner):
    """All triplets with ``d(a, n) - d(a, p) > margin`` (already satisfied)."""

    strategy: ClassVar[str] = "easy"


@dataclass(frozen=True)
class AllTripletsMiner(_WindowMiner):
    """Every valid triplet of the batch."""

    strategy: ClassVar[str] = "all"


@dataclass(frozen=True)
class BatchHardMiner:
    """Per anchor its farthest positive and closest negative (Hermans et al., 2017)."""

    distance: str | Distance = "euclidean"
    strategy: ClassVar[str] = "batch_hard"

    def __call__(self, embeddings: Tensor, labels: Tensor) -> Triplets:
        return mine_triplets(embeddings, labels, "batch_hard", distance=self.distance)


@dataclass(frozen=True)
class RandomTripletMiner:
    """``per_anchor`` uniformly drawn valid triplets per anchor; pass a seeded ``generator``."""

    per_anchor: int = 1
    distance: str | Distance = "euclidean"
    generator: torch.Generator | None = field(default=None, compare=False)
    strategy: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        count("per_anchor", self.per_anchor)

    def __call__(self, embeddings: Tensor, labels: Tensor) -> Triplets:
        return mine_triplets(
            embeddings, labels, "random", distance=self.distance,
            per_anchor=self.per_anchor, generator=self.generator,
        )  # fmt: skip


@dataclass(frozen=True)
class DistanceWeightedMiner:
    """Distance-weighted negative sampling (Wu et al., 2017) for L2-normalised embeddings."""

    cutoff: float = 0.5
    nonzero_loss_cutoff: float = 1.4
    per_positive: int = 1
    distance: str | Distance = "euclidean"
    generator: torch.Generator | None = field(default=None, compare=False)
    strategy: ClassVar[str] = "distance_weighted"

    def __post_init__(self) -> None:
        check_sampling(self.cutoff, self.nonzero_loss_cutoff, self.per_positive)

    def __call__(self, embeddings: Tensor, labels: Tensor) -> Triplets:
        return distance_weighted_triplets(
            embeddings, labels, cutoff=self.cutoff, nonzero_loss_cutoff=self.nonzero_loss_cutoff,
            per_positive=self.per_positive, distance=self.distance, generator=self.generator,
        )  # fmt: skip


_BY_NAME: dict[str, type] = {
    "hard": HardMiner,
    "semihard": SemiHardMiner,
    "easy": EasyMiner,
    "all": AllTripletsMiner,
    "batch_hard": BatchHardMiner,
    "random": RandomTripletMiner,
    "distance_weighted": DistanceWeightedMiner,
}


def make_miner(strategy: str, **kwargs: object) -> TripletMiner:
    """Build the miner object for a strategy name, e.g. ``make_miner("semihard", margin=0.3)``."""
    check_strategy(strategy, TRIPLET_STRATEGIES)
    try:
        return _BY_NAME[strategy](**kwargs)  # type: ignore[no-any-return]
    except TypeError as err:
        raise TypeError(f"bad settings for the {strategy!r} miner: {err}") from None


def is_window_miner(miner: object) -> bool:
    """True for miners whose set the fused losses can reduce without listing triplets."""
    return isinstance(miner, _WindowMiner) and miner.strategy in WINDOW_STRATEGIES
