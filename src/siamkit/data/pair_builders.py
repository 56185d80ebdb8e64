"""Balanced pair and triplet lists over any labelled dataset, seeded.

``make_pairs`` gives every item ``pos`` similar and ``neg`` dissimilar partners for a
``pos:neg`` ratio (default 1:1), or exactly ``num_pairs`` pairs in that ratio. ``make_triplets``
gives every item ``per_anchor`` (positive, negative) pairs. Partners are drawn uniformly with a
seeded generator; items of a class with a single member get no positive. ``PairDataset`` and
``TripletDataset`` turn the lists into datasets of inputs.

>>> pairs = make_pairs([0, 0, 1, 1, 2, 2], ratio=(1, 1), seed=0)
>>> int(pairs.same.sum()), int((~pairs.same).sum())
(6, 6)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from siamkit.data.samplers import labels_as_array
from siamkit.types import Pairs, Triplets


def _check_ratio(ratio: tuple[int, int]) -> tuple[int, int]:
    if (
        not isinstance(ratio, (tuple, list))
        or len(ratio) != 2
        or any(isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0 for r in ratio)
        or sum(ratio) == 0
    ):
        raise ValueError(
            f"ratio must be two non-negative integers (positives, negatives), not both 0; got {ratio!r}"
        )
    return int(ratio[0]), int(ratio[1])


def _draw_partners(
    labels: np.ndarray, anchors: np.ndarray, same: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One uniformly drawn partner per anchor (same class but not itself, or another class).

    Returns ``(anchors_kept, partners)``; anchors without any valid partner are dropped.
    """
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    lo = np.searchsorted(sorted_labels, labels[anchors], side="left")
    hi = np.searchsorted(sorted_labels, labels[anchors], side="right")
    size = hi - lo
    n = len(labels)
    if same:
        ok = size >= 2
        anchors, lo, size = anchors[ok], lo[ok], size[ok]
        r = (rng.random(len(anchors)) * (size - 1)).astype(np.int64)
        # skip the anchor itself: position of the anchor inside its class block
        rank_self = _rank_in_block(order, lo, size, anchors)
        r = r + (r >= rank_self)
        return anchors, order[lo + r]
    ok = size < n
    anchors, lo, size = anchors[ok], lo[ok], size[ok]
    r = (rng.random(len(anchors)) * (n - size)).astype(np.int64)
    r = r + (r >= lo) * size  # jump over the anchor's class block in sorted order
    return anchors, order[r]


def _rank_in_block(
    order: np.ndarray, lo: np.ndarray, size: np.ndarray, items: np.ndarray
) -> np.ndarray:
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return position[items] - lo


def make_pairs(
    labels: Any, ratio: tuple[int, int] = (1, 1), num_pairs: int | None = None, seed: int = 0
) -> Pairs:
    """Similar and dissimilar index pairs in a ``positives:negatives`` ratio.

    Args:
        labels: one integer label per item (or a dataset with ``labels`` / ``targets``).
        ratio: ``(pos, neg)``. Without ``num_pairs`` every item is the first element of ``pos``
            similar and ``neg`` dissimilar pairs.
        num_pairs: if given, exactly this many pairs (``round(num_pairs * pos / (pos + neg))``
            similar), with first elements drawn uniformly.
        seed: makes the draw reproducible.

    Returns:
        ``Pairs(first, second, same)`` of indices into the dataset.
    """
    y = labels_as_array(labels)
    pos, neg = _check_ratio(ratio)
    rng = np.random.default_rng(seed)
    n = len(y)
    if num_pairs is None:
        pos_anchors, neg_anchors = np.repeat(np.arange(n), pos), np.repeat(np.arange(n), neg)
    else:
        if isinstance(num_pairs, bool) or num_pairs < 0:
            raise ValueError(f"num_pairs must be a non-negative integer, got {num_pairs!r}")
        n_pos = round(num_pairs * pos / (pos + neg))
        _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        pos_ok, neg_ok = np.flatnonzero(counts[inverse] >= 2), np.flatnonzero(counts[inverse] < n)
        if (n_pos and not len(pos_ok)) or (num_pairs - n_pos and not len(neg_ok)):
            raise ValueError(
                "the labels cannot give these pairs: similar pairs need a class with 2+ items, dissimilar pairs need 2+ classes"
            )
        pos_anchors = rng.choice(pos_ok, n_pos) if n_pos else np.zeros(0, np.int64)
        neg_anchors = (
            rng.choice(neg_ok, num_pairs - n_pos) if num_pairs - n_pos else np.zeros(0, np.int64)
        )
    a_pos, p = _draw_partners(y, pos_anchors.astype(np.int64), True, rng)
    a_neg, q = _draw_partners(y, neg_anchors.astype(np.int64), False, rng)
    first = torch.from_numpy(np.concatenate([a_pos, a_neg]))
    second = torch.from_numpy(np.concatenate([p, q]))
    same = torch.cat(
        [torch.ones(len(a_pos), dtype=torch.bool), torch.zeros(len(a_neg), dtype=torch.bool)]
    )
    perm = torch.from_numpy(rng.permutation(len(first)))
    return Pairs(first[perm], second[perm], same[perm])


def make_triplets(labels: Any, per_anchor: int = 1, seed: int = 0) -> Triplets:
    """``per_anchor`` (anchor, positive, negative) index triplets for every item that has both.

    >>> t = make_triplets([0, 0, 1, 1], per_anchor=2, seed=0)
    >>> len(t.anchor)
    8
    """
    y = labels_as_array(labels)
    if isinstance(per_anchor, bool) or not isinstance(per_anchor, int) or per_anchor < 1:
        raise ValueError(f"per_anchor must be a positive integer, got {per_anchor!r}")
    rng = np.random.default_rng(seed)
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    usable = np.flatnonzero((counts[inverse] >= 2) & (counts[inverse] < len(y)))
    anchors = np.repeat(usable, per_anchor)
    a, p = _draw_partners(y, anchors, True, rng)
    _, n = _draw_partners(y, a, False, rng)
    return Triplets(torch.from_numpy(a), torch.from_numpy(p), torch.from_numpy(n))


class PairDataset(Dataset):
    """``dataset[i] = (x, label)`` and ``Pairs`` -> items ``(x1, x2, same)``."""

    def __init__(self, dataset: Any, pairs: Pairs) -> None:
        self.dataset, self.pairs = dataset, pairs

    def __len__(self) -> int:
        return len(self.pairs.first)

    def __getitem__(self, i: int) -> tuple[Any, Any, bool]:
        f, s, same = self.pairs.first[i], self.pairs.second[i], self.pairs.same[i]
        return self.dataset[int(f)][0], self.dataset[int(s)][0], bool(same)


class TripletDataset(Dataset):
    """``dataset[i] = (x, label)`` and ``Triplets`` -> items ``(x_anchor, x_positive, x_negative)``."""

    def __init__(self, dataset: Any, triplets: Triplets) -> None:
        self.dataset, self.triplets = dataset, triplets

    def __len__(self) -> int:
        return len(self.triplets.anchor)

    def __getitem__(self, i: int) -> tuple[Any, Any, Any]:
        a, p, n = (int(t[i]) for t in self.triplets)
        return self.dataset[a][0], self.dataset[p][0], self.dataset[n][0]
