"""Class ids -> rows of a per-class tensor (proxies, centres, margins) that a loss learns.

A run's labels are the dataset's class ids (e.g. ``[3, 5, 7]`` for a subset of classes); a loss
that keeps one learned row per training class looks its rows up through a ``lookup`` buffer.

>>> lookup = class_lookup([7, 2, 9])
>>> class_rows(lookup, torch.tensor([2, 7, 9, 2])).tolist()
[0, 1, 2, 0]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def class_lookup(classes: Sequence[int], at_least: int = 1) -> Tensor:
    """``(max id + 1,)`` long tensor: the row of each class id in sorted order, ``-1`` for none.

    Raises a ``ValueError`` when there are fewer than ``at_least`` distinct classes.
    """
    ids = sorted({int(c) for c in classes})
    if len(ids) < at_least or (ids and ids[0] < 0):
        raise ValueError(
            f"the loss needs at least {at_least} training classes with ids >= 0, got {ids}"
        )
    lookup = torch.full((ids[-1] + 1 if ids else 0,), -1, dtype=torch.long)
    lookup[torch.tensor(ids, dtype=torch.long)] = torch.arange(len(ids))
    return lookup


def class_rows(lookup: Tensor, labels: Tensor, what: str = "proxy") -> Tensor:
    """Class ids ``(B,)`` -> rows ``(B,)``; a ``ValueError`` naming a class without a ``what``."""
    lab = labels.long().to(lookup.device)
    bad = (lab < 0) | (lab >= lookup.numel())
    rows = lookup[lab.clamp(0, max(lookup.numel() - 1, 0))]
    bad |= rows < 0
    if bool(bad.any()):
        raise ValueError(
            f"label {int(lab[bad][0])} has no {what}; the loss was built for the training "
            f"classes {torch.nonzero(lookup >= 0).flatten().tolist()}"
        )
    return rows
