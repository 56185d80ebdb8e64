"""Distance-weighted negative sampling (Wu, Manmatha, Smola, Krähenbühl: "Sampling Matters in Deep
Embedding Learning", ICCV 2017).

On the unit sphere in ``D`` dimensions, pairwise distances of random points have density
``q(d) ∝ d^(D-2) (1 - d^2/4)^((D-3)/2)``. Sampling negatives with weight ``1/q(d)`` (distances
clipped below at ``cutoff``, and zero weight at or beyond ``nonzero_loss_cutoff`` where a negative
cannot contribute loss) spreads the chosen negatives over all distances instead of piling them
near ``sqrt(2)``. As in the authors' code, every (anchor, positive) pair gets its own negatives.
"""

from __future__ import annotations

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.miners._common import check_batch, distance_matrix, empty_long, label_masks
from siamkit.params import ParamError, count, number
from siamkit.types import Triplets


def check_sampling(
    cutoff: object, nonzero_loss_cutoff: object, per_positive: object
) -> tuple[float, float, int]:
    """The sampling settings as ``(float, float, int)``: distances ``0 <= cutoff <
    nonzero_loss_cutoff`` and a whole ``per_positive >= 1``, else a ``ParamError``."""
    low = number("cutoff", cutoff, low=0, note="a distance; the paper's 0.5")
    high = number("nonzero_loss_cutoff", nonzero_loss_cutoff, low=0, note="the paper's 1.4")
    if high <= low:
        raise ParamError(
            "nonzero_loss_cutoff", nonzero_loss_cutoff, f"greater than cutoff ({cutoff})"
        )
    return low, high, count("per_positive", per_positive)


def distance_weights(
    dist: Tensor, neg: Tensor, dim: int, cutoff: float, nonzero_loss_cutoff: float
) -> Tensor:
    """Row-normalised sampling weights over negatives. ``(A, R)``; rows without any usable
    negative fall back to uniform over their negatives (all-zero if there are none)."""
    d = dist.clamp_min(cutoff)
    log_w = (2.0 - dim) * torch.log(d) - ((dim - 3) / 2.0) * torch.log1p(-0.25 * d.pow(2))
    usable = neg & (dist < nonzero_loss_cutoff) & torch.isfinite(log_w)
    log_w = log_w.masked_fill(~usable, float("-inf"))
    row_max = log_w.max(dim=1, keepdim=True).values
    w = torch.exp(log_w - torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max)))
    w = torch.where(usable, w, torch.zeros_like(w))
    empty = w.sum(1, keepdim=True) == 0
    w = torch.where(empty, neg.to(w.dtype), w)
    return w / w.sum(1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)


def distance_weighted_triplets(
    embeddings: Tensor,
    labels: Tensor,
    *,
    cutoff: float = 0.5,
    nonzero_loss_cutoff: float = 1.4,
    per_positive: int = 1,
    distance: str | Distance = "euclidean",
    generator: torch.Generator | None = None,
) -> Triplets:
    """For every (anchor, positive) pair, ``per_positive`` negatives drawn with weight ``1/q(d)``.

    Args:
        embeddings: ``(B, D)``, meant to be L2-normalised (the density above is for Euclidean
            distances between unit vectors; other distances are used as they are).
        labels: ``(B,)`` integer class ids.
        cutoff: distances below this are treated as ``cutoff`` (limits the variance of the weights).
        nonzero_loss_cutoff: negatives at or beyond this distance are never drawn.
        per_positive: negatives drawn per (anchor, positive) pair, with replacement.
        distance: a distance name or object.
        generator: a ``torch.Generator`` for reproducible draws.

    >>> z = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
    >>> t = distance_weighted_triplets(z, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))
    >>> len(t.anchor)   # one negative for each of the 8 ordered positive pairs
    8
    """
    labels = check_batch(embeddings, labels)
    cutoff, nonzero_loss_cutoff, per_positive = check_sampling(
        cutoff, nonzero_loss_cutoff, per_positive
    )
    with torch.no_grad():
        dist = distance_matrix(embeddings.detach(), distance)
        pos, neg = label_masks(labels, labels)
        keep = pos.any(1) & neg.any(1)
        if not bool(keep.any()):
            e = empty_long(embeddings.device)
            return Triplets(e, e.clone(), e.clone())
        w = distance_weights(
            dist[keep], neg[keep], embeddings.shape[1], cutoff, nonzero_loss_cutoff
        )
        pos_k = pos[keep]
        n_pos = pos_k.sum(1)
        draws = torch.multinomial(
            w, int(n_pos.max()) * per_positive, replacement=True, generator=generator
        )
        rows, p = pos_k.nonzero(as_tuple=True)  # row-major: the j-th positive of each row
        slot = (
            torch.arange(rows.shape[0], device=rows.device) - (torch.cumsum(n_pos, 0) - n_pos)[rows]
        )
        cols = slot.unsqueeze(1) * per_positive + torch.arange(per_positive, device=rows.device)
        n = draws[rows.unsqueeze(1), cols]  # (P, per_positive)
        a = torch.arange(labels.shape[0], device=labels.device)[keep][rows]
    return Triplets(
        a.repeat_interleave(per_positive), p.repeat_interleave(per_positive), n.reshape(-1)
    )
