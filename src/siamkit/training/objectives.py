"""Training objectives built from a :class:`~siamkit.training.config.LossConfig`.

Every objective is called the same way, on embeddings (never on the model), so users' own
loops and the :class:`~siamkit.training.trainer.Trainer` share them:

``objective(z (B, D), labels (B,), triplets=None) -> scalar``

>>> obj = build_objective(LossConfig(kind="triplet", mining="batch_hard"), distance="euclidean")
>>> z = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
>>> obj(z, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])).dim()
0
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from siamkit.distances import Distance, MLPMetric, get_distance
from siamkit.losses import PairBCELoss, SupConLoss, pair_bce_loss
from siamkit.losses.contrastive import ContrastiveLoss
from siamkit.losses.triplet import TripletMarginLoss
from siamkit.training.config import LossConfig, resolved_mining
from siamkit.types import Triplets

Objective = Callable[..., Tensor]


def _masked_log1p_sum_exp(x: Tensor, mask: Tensor) -> Tensor:
    """Row-wise ``log(1 + sum_{mask} exp(x))``: ``(B, B), (B, B) -> (B,)``, 0 for empty rows."""
    x = x.masked_fill(~mask, torch.finfo(x.dtype).min)
    zeros = torch.zeros(x.shape[0], 1, dtype=x.dtype, device=x.device)
    out = torch.logsumexp(torch.cat([zeros, x], dim=1), dim=1)
    return torch.where(mask.any(dim=1), out, torch.zeros_like(out))


class MinedMultiSimilarityLoss(nn.Module):
    """Multi-similarity loss with its own pair miner (Wang et al., 2019; PML's ``MultiSimilarityMiner``).

    A positive pair is kept if its similarity is below the anchor's hardest negative + ``epsilon``;
    a negative pair if it is above the anchor's hardest positive - ``epsilon``. Similarity is
    ``1 - distance`` (cosine similarity for the cosine distance). ``epsilon=None`` disables mining.
    """

    def __init__(
        self,
        alpha: float = 2.0,
        beta: float = 50.0,
        base: float = 0.5,
        epsilon: float | None = 0.1,
        distance: str | Distance = "cosine",
    ) -> None:
        super().__init__()
        self.alpha, self.beta, self.base, self.epsilon = alpha, beta, base, epsilon
        self.distance = get_distance(distance)

    def forward(self, z: Tensor, labels: Tensor, triplets: Triplets | None = None) -> Tensor:
        """``(B, D), (B,) -> scalar``; ``triplets`` are ignored."""
        sim = 1.0 - self.distance.matrix(z, z)  # (B, B)
        same = labels.unsqueeze(0) == labels.unsqueeze(1)
        eye = torch.eye(labels.shape[0], dtype=torch.bool, device=z.device)
        pos, neg = same & ~eye, ~same
        if self.epsilon is not None:
            with torch.no_grad():
                s = sim.detach()
                hardest_pos = s.masked_fill(~pos, float("inf")).amin(1, keepdim=True)
                hardest_neg = s.masked_fill(~neg, float("-inf")).amax(1, keepdim=True)
                pos = pos & (s - self.epsilon < hardest_neg)
                neg = neg & (s + self.epsilon > hardest_pos)
        pos_term = _masked_log1p_sum_exp(-self.alpha * (sim - self.base), pos) / self.alpha
        neg_term = _masked_log1p_sum_exp(self.beta * (sim - self.base), neg) / self.beta
        return (pos_term + neg_term).mean()


class PairHeadObjective(nn.Module):
    """BCE on every pair ``i < j`` of a batch, scored by a learned :class:`MLPMetric` head.

    ``pos_weight=None`` balances similar and dissimilar pairs by their counts in the batch.
    """

    def __init__(self, head: MLPMetric, pos_weight: float | None = None) -> None:
        super().__init__()
        if not isinstance(head, MLPMetric):
            raise TypeError("BCE training needs the model's distance to be an MLPMetric head")
        self.head, self.pos_weight = head, pos_weight

    def forward(self, z: Tensor, labels: Tensor, triplets: Triplets | None = None) -> Tensor:
        i, j = torch.triu_indices(z.shape[0], z.shape[0], offset=1, device=z.device)
        same = labels[i] == labels[j]
        weight = self.pos_weight
        if weight is None:
            n_pos = int(same.sum())
            weight = (same.numel() - n_pos) / max(n_pos, 1)
        return pair_bce_loss(self.head.logits(z[i], z[j]), same, weight)


class _Supcon(nn.Module):
    def __init__(self, temperature: float) -> None:
        super().__init__()
        self.loss = SupConLoss(temperature=temperature)

    def forward(self, z: Tensor, labels: Tensor, triplets: Triplets | None = None) -> Tensor:
        return self.loss(z, labels)


class _Contrastive(nn.Module):
    def __init__(self, loss: ContrastiveLoss) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, z: Tensor, labels: Tensor, triplets: Triplets | None = None) -> Tensor:
        return self.loss(z, labels)


def build_objective(cfg: LossConfig, distance: str | Distance) -> nn.Module:
    """The loss module for ``cfg``, using the model's ``distance`` (a learned one trains with it).

    Args:
        cfg: the loss section of a run config.
        distance: the model's distance (``model.distance``); ``"bce"`` needs an :class:`MLPMetric`.

    Returns:
        A module called as ``objective(z, labels, triplets=None)``.
    """
    kind, mining = cfg.kind, resolved_mining(cfg)
    if kind == "triplet":
        mining = None if cfg.offline_mining else mining
        return TripletMarginLoss(
            cfg.margin, distance=distance, mining=mining, reduction=cfg.reduction
        )
    if kind == "contrastive":
        return _Contrastive(ContrastiveLoss(cfg.margin, distance=distance, mining=mining))
    if kind == "bce":
        if not isinstance(distance, MLPMetric):
            raise TypeError("loss.kind = bce needs model.distance = mlp (a learned pair head)")
        return PairHeadObjective(distance, cfg.pos_weight)
    if kind == "multi_similarity":
        eps = None if mining is None else 0.1
        return MinedMultiSimilarityLoss(cfg.ms_alpha, cfg.ms_beta, cfg.ms_base, eps, "cosine")
    if kind == "supcon":
        return _Supcon(cfg.temperature)
    raise ValueError(f"unknown loss kind {kind!r}")


__all__ = ["MinedMultiSimilarityLoss", "PairBCELoss", "PairHeadObjective", "build_objective"]
