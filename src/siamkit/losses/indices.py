"""Mined indices -> the pairs a label-based loss sums over (pytorch-metric-learning's contract).

Every label-based loss is called ``loss(embeddings (B, D), labels (B,), indices=None)``. ``indices``
come from a miner: :class:`~siamkit.types.Triplets` ``(anchor, positive, negative)`` or
:class:`~siamkit.types.Pairs` ``(first, second, same)``; ``None`` means every valid pair or
triplet of the batch. Pair-based losses read either kind as ``(B, B)`` masks:

>>> from siamkit.types import Triplets
>>> pos, neg = pair_masks(Triplets(torch.tensor([0]), torch.tensor([1]), torch.tensor([2])), torch.tensor([0, 0, 1]))
>>> pos.nonzero().tolist(), neg.nonzero().tolist()
([[0, 1]], [[0, 2]])
"""

from __future__ import annotations

import torch
from torch import Tensor

from siamkit.miners._common import label_masks
from siamkit.types import Pairs, Triplets

#: What a miner returns and a label-based loss accepts as ``indices``.
Indices = Triplets | Pairs


def _check_index(t: object, b: int, what: str) -> Tensor:
    if not isinstance(t, Tensor) or t.dim() != 1 or t.is_floating_point():
        raise TypeError(f"{what} indices must be 1-D integer tensors")
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= b):
        raise ValueError(f"{what} indices must lie in [0, {b}) for a batch of {b} embeddings")
    return t.long()


def as_pairs(indices: Indices | tuple[Tensor, Tensor, Tensor], labels: Tensor) -> Pairs:
    """``Pairs`` as given, or the (anchor, positive) and (anchor, negative) pairs of ``Triplets``.

    A plain 3-tuple is read as ``Pairs`` when its third tensor is bool, else as ``Triplets``.
    """
    if not isinstance(indices, tuple) or len(indices) != 3:
        raise TypeError(
            "indices must be Triplets (anchor, positive, negative) or Pairs (first, second, same)"
        )
    b = labels.shape[0]
    is_pairs = isinstance(indices, Pairs) or (
        not isinstance(indices, Triplets)
        and isinstance(indices[2], Tensor)
        and indices[2].dtype == torch.bool
    )
    if is_pairs:
        first, second = (_check_index(t, b, "pair") for t in indices[:2])
        same = indices[2]
        if not first.shape == second.shape == same.shape:
            raise ValueError(
                f"first, second, same differ in length: {first.shape[0]}, {second.shape[0]}, {same.shape[0]}"
            )
        return Pairs(first, second, same.to(torch.bool))
    a, p, n = (_check_index(t, b, "triplet") for t in indices)
    if not a.shape == p.shape == n.shape:
        raise ValueError(
            f"anchor, positive, negative differ in length: {a.shape[0]}, {p.shape[0]}, {n.shape[0]}"
        )
    ones = torch.ones_like(a, dtype=torch.bool)
    return Pairs(torch.cat([a, a]), torch.cat([p, n]), torch.cat([ones, ~ones]))


def pair_masks(indices: Indices | None, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Positive and negative ``(B, B)`` bool masks (row = anchor) of the mined pairs.

    ``None``: every pair of distinct items, positive when the labels match.
    """
    b = labels.shape[0]
    pos, neg = label_masks(labels, labels)  # (B, B) each
    if indices is None:
        return pos, neg
    first, second, _ = as_pairs(indices, labels)
    chosen = torch.zeros(b, b, dtype=torch.bool, device=labels.device)
    chosen[first.to(labels.device), second.to(labels.device)] = True
    return chosen & pos, chosen & neg
