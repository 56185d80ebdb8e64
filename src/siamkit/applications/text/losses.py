"""Losses for text twins on embeddings (never on the model): CoSENT, AnglE, multiple-negatives
ranking, online contrastive, and the seed contrastive and triplet losses on cosine distances;
Matryoshka wraps any of them.

All take L2-normalised embeddings ``(N, D)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    return _ranked_pairs_loss((za * zb).sum(1), scores, scale)


def _ranked_pairs_loss(sim: Tensor, scores: Tensor, scale: float) -> Tensor:
    """``log(1 + Σ_{s_i > s_j} exp(scale (sim_j - sim_i)))``: CoSENT's objective on any pair
    similarity ``sim`` ``(N,)``."""
    sim = sim * scale
    diff = sim[None, :] - sim[:, None]  # (N, N): sim_j - sim_i
    mask = scores[:, None] > scores[None, :]  # s_i > s_j
    diff = diff[mask]
    return torch.logsumexp(torch.cat([diff.new_zeros(1), diff]), dim=0)


def angle_similarity(za: Tensor, zb: Tensor) -> Tensor:
    """AnglE's pair similarity ``|cos + sin|`` (Li & Li 2023, as sentence-transformers'
    ``pairwise_angle_sim``): each L2-normalised ``(N, D)`` row read as ``D/2`` complex numbers
    (dimension ``k`` the real part, ``k + D/2`` the imaginary; an odd ``D`` padded with a zero),
    ``sin = Σ (a_im b_re - a_re b_im)``. Returns ``(N,)``."""
    if za.shape[1] % 2:
        za, zb = F.pad(za, (0, 1)), F.pad(zb, (0, 1))
    za, zb = F.normalize(za, dim=1), F.normalize(zb, dim=1)
    cos = (za * zb).sum(1)
    a_re, a_im = za.chunk(2, dim=1)
    b_re, b_im = zb.chunk(2, dim=1)
    sin = (a_im * b_re - a_re * b_im).sum(1)
    return (cos + sin).abs()


def angle_loss(za: Tensor, zb: Tensor, scores: Tensor, scale: float = 20.0) -> Tensor:
    """AnglE (Li & Li 2023) for graded scores: CoSENT's ranking objective on
    :func:`angle_similarity` instead of the cosine, so that pairs near cos = ±1, where the
    cosine's gradient vanishes, still get one. This is the angle objective alone, as
    sentence-transformers' ``AnglELoss`` (the paper adds it to the cosine and in-batch terms).
    ``za, zb``: ``(N, D)``; ``scores``: ``(N,)``."""
    return _ranked_pairs_loss(angle_similarity(za, zb), scores, scale)


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


def online_contrastive_loss(za: Tensor, zb: Tensor, same: Tensor, margin: float = 0.5) -> Tensor:
    """Contrastive loss on the batch's hard pairs alone (sentence-transformers'
    ``OnlineContrastiveLoss``), on cosine distances ``d = 1 - cos``: the positives (``same`` 1)
    farther apart than the closest negative, and the negatives (``same`` 0) closer than the
    farthest positive; ``Σ d² over those positives + Σ relu(margin - d)² over those negatives``
    (a sum, as there). A batch of one kind compares its pairs with their own mean distance.
    ``za, zb``: ``(N, D)``; ``same``: ``(N,)`` of 0 and 1."""
    d = 1 - (za * zb).sum(1)
    pos, neg = d[same == 1], d[same == 0]
    hard_neg = neg[neg < (pos.max() if len(pos) else neg.mean())]
    hard_pos = pos[pos > (neg.min() if len(neg) else pos.mean())]
    return hard_pos.pow(2).sum() + F.relu(margin - hard_neg).pow(2).sum()


def truncate_embeddings(z: Tensor, dim: int) -> Tensor:
    """The first ``dim`` dimensions of each row of ``z`` ``(N, D)``, L2-normalised again: the
    embedding a Matryoshka-trained model gives at a smaller size."""
    return F.normalize(z[:, :dim], dim=1)


def matryoshka_loss(
    zs: Sequence[Tensor],
    loss: Callable[[list[Tensor]], Tensor],
    dims: Sequence[int],
    weights: Sequence[float] | None = None,
) -> Tensor:
    """Matryoshka representation learning (Kusupati et al. 2022; sentence-transformers'
    ``MatryoshkaLoss``): ``Σ_k weights[k] * loss(each of zs truncated to dims[k] and
    re-normalised)``, so that the leading ``dims[k]`` dimensions embed on their own. ``zs``: the
    batch's columns, each ``(N, D)``; ``loss``: any of the losses above on those columns."""
    ws = [1.0] * len(dims) if weights is None else list(weights)
    parts = [w * loss([truncate_embeddings(z, d) for z in zs]) for d, w in zip(dims, ws)]
    return torch.stack(parts).sum()
