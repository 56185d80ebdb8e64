"""Losses for text twins on embeddings (never on the model): CoSENT, multiple-negatives ranking,
and the seed contrastive and triplet losses on cosine distances.

All take L2-normalised embeddings ``(N, D)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from siamkit.losses import contrastive_loss, triplet_margin_loss


def cosent_loss(za: Tensor, zb: Tensor, scores: Tensor, scale: float = 20.0) -> Tensor:
    """CoSENT (Su 2022) for graded scores: ``log(1 + Σ_{s_i > s_j} exp(scale (cos_j - cos_i)))``.

    Every pair whose gold score is higher must get the higher cosine; only the order counts.
    ``za, zb``: ``(N, D)``; ``scores``: ``(N,)``.

    >>> cosent_loss(F.normalize(torch.randn(4, 8)), F.normalize(torch.randn(4, 8)), torch.rand(4))
    tensor(...)
    """
    cos = (za * zb).sum(1) * scale  # (N,)
    diff = cos[None, :] - cos[:, None]  # (N, N): cos_j - cos_i
    mask = scores[:, None] > scores[None, :]  # s_i > s_j
    diff = diff[mask]
    return torch.logsumexp(torch.cat([diff.new_zeros(1), diff]), dim=0)


def cosine_mse_loss(za: Tensor, zb: Tensor, scores: Tensor) -> Tensor:
    """Mean squared error between each pair's cosine and its score in [0, 1]
    (sentence-transformers' ``CosineSimilarityLoss``): unlike CoSENT it pins the cosine to the
    score's scale, not only its order. ``za, zb``: ``(N, D)``; ``scores``: ``(N,)``."""
    return F.mse_loss((za * zb).sum(1), scores.to(za.dtype))


def mnrl_loss(za: Tensor, zp: Tensor, scale: float = 20.0, zn: Tensor | None = None) -> Tensor:
    """Multiple-negatives ranking: each anchor must pick its own positive among the batch's
    positives (and the optional hard negatives ``zn``): cross entropy over ``scale * cos``.

    ``za, zp``: ``(B, D)``; ``zn``: ``(M, D)`` or None. Duplicates in a batch would act as false
    negatives: draw batches with :class:`NoDuplicatesBatchSampler`.
    """
    cands = zp if zn is None else torch.cat([zp, zn])  # (B [+ M], D)
    logits = scale * za @ cands.T  # (B, B [+ M])
    return F.cross_entropy(logits, torch.arange(len(za), device=za.device))


def text_contrastive_loss(za: Tensor, zb: Tensor, same: Tensor, margin: float = 0.5) -> Tensor:
    """The seed contrastive loss on cosine distances ``1 - cos``: ``(N, D), (N, D), (N,)``."""
    return contrastive_loss(1 - (za * zb).sum(1), same, margin=margin)


def text_triplet_loss(za: Tensor, zp: Tensor, zn: Tensor, margin: float = 0.2) -> Tensor:
    """The seed triplet loss on cosine distances: ``mean relu(d(a,p) - d(a,n) + margin)``."""
    return triplet_margin_loss(1 - (za * zp).sum(1), 1 - (za * zn).sum(1), margin=margin)
