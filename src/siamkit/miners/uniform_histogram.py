"""pytorch-metric-learning's ``UniformHistogramMiner``: pairs spread evenly over their distances.

Positive pairs and negative pairs are each binned by distance into ``num_bins`` equal-width bins
between that kind's smallest and largest distance (``[low, high)`` per bin, the last one closed);
every non-empty bin gives ``pos_per_bin`` (or ``neg_per_bin``) pairs drawn uniformly from it with
replacement. Rare distances are thus as present as common ones. Pairs are directional, as in PML;
the result lists the positive draws, then the negative draws, each bin by bin from the closest.

>>> z = torch.nn.functional.normalize(torch.randn(12, 4), dim=1)
>>> pairs = UniformHistogramMiner(num_bins=3, pos_per_bin=2, neg_per_bin=2)(z, torch.arange(12) % 3)
>>> int(pairs.same.sum()) <= 6 and int((~pairs.same).sum()) <= 6
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.miners._common import check_batch, distance_matrix, empty_long, label_masks
from siamkit.params import count
from siamkit.types import Pairs


def histogram_bins(values: Tensor, num_bins: int) -> Tensor:
    """Each value's bin among ``num_bins`` equal-width bins over ``[min, max]`` (PML's edges from
    ``torch.linspace``; ``[low, high)``, the last bin closed), ``-1`` for none. ``(P,)`` long."""
    edges = torch.linspace(
        values.min(), values.max(), steps=num_bins + 1, dtype=values.dtype, device=values.device
    )
    b = torch.searchsorted(edges, values, right=True) - 1
    at_top = values == edges[-1]  # the last bin is closed on the right
    b = torch.where(at_top, torch.full_like(b, num_bins - 1), b)
    return torch.where((b >= 0) & (b < num_bins), b, torch.full_like(b, -1))


def uniform_per_bin(
    values: Tensor, num_bins: int, per_bin: int, generator: torch.Generator | None = None
) -> Tensor:
    """Positions into ``values``: ``per_bin`` uniform draws (with replacement) from each non-empty
    bin, bins in ascending order. ``(per_bin * non-empty bins,)`` long."""
    if values.numel() == 0:
        return empty_long(values.device)
    bins = histogram_bins(values, num_bins)
    inside = (bins >= 0).nonzero(as_tuple=True)[0]
    order = inside[torch.argsort(bins[inside], stable=True)]  # positions grouped by bin
    counts = torch.bincount(bins[inside], minlength=num_bins)
    starts = torch.cumsum(counts, 0) - counts
    full = (counts > 0).nonzero(as_tuple=True)[0]
    u = torch.rand(full.shape[0], per_bin, generator=generator, dtype=torch.float64)
    u = u.to(values.device)
    c = counts[full].unsqueeze(1)
    offset = torch.minimum((u * c).long(), c - 1)
    return order[(starts[full].unsqueeze(1) + offset).reshape(-1)]


@dataclass(frozen=True)
class UniformHistogramMiner:
    """Pairs drawn evenly across the distance histogram (module docstring).

    ``miner(z, labels) -> Pairs``; pass a seeded ``generator`` for reproducible draws. In a config
    ``loss: {kind: contrastive, miner: {kind: uniform_histogram, params: {num_bins: 50}}}``.
    """

    num_bins: int = 100
    pos_per_bin: int = 10
    neg_per_bin: int = 10
    distance: str | Distance = "euclidean"
    generator: torch.Generator | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("num_bins", "pos_per_bin", "neg_per_bin"):
            count(name, getattr(self, name))

    @torch.no_grad()
    def __call__(self, embeddings: Tensor, labels: Tensor) -> Pairs:
        labels = check_batch(embeddings, labels)
        dist = distance_matrix(embeddings.detach(), self.distance)
        pos, neg = label_masks(labels, labels)
        firsts, seconds = [], []
        for mask, per_bin in ((pos, self.pos_per_bin), (neg, self.neg_per_bin)):
            i, j = mask.nonzero(as_tuple=True)
            pick = uniform_per_bin(dist[i, j], self.num_bins, per_bin, self.generator)
            firsts.append(i[pick])
            seconds.append(j[pick])
        first, second = torch.cat(firsts), torch.cat(seconds)
        return Pairs(first, second, labels[first] == labels[second])
