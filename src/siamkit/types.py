"""Typed results shared across siamkit. No dicts with magic keys inside the library."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

__all__ = ["Pairs", "Triplets"]


class Triplets(NamedTuple):
    """Indices of (anchor, positive, negative) triplets into a batch of embeddings; each ``(T,)``."""

    anchor: Tensor
    positive: Tensor
    negative: Tensor


class Pairs(NamedTuple):
    """Indices of pairs into a batch of embeddings and whether each pair is similar; each ``(P,)``."""

    first: Tensor
    second: Tensor
    same: Tensor
