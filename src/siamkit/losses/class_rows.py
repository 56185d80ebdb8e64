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
    """``(C,)`` long tensor: the distinct class ids in increasing order (the one at ``r`` owns
    row ``r``). Its size is the number of classes, whatever the ids are (a table indexed by id
    would take ``8 * (max id + 1)`` bytes: 8 GB for one id of 10**9).

    Raises a ``ValueError`` when there are fewer than ``at_least`` distinct classes.
    """
    ids = sorted({int(c) for c in classes})
    if len(ids) < at_least or (ids and ids[0] < 0):
        raise ValueError(
            f"the loss needs at least {at_least} training classes with ids >= 0, got {ids}"
        )
    return torch.tensor(ids, dtype=torch.long)


def class_rows(lookup: Tensor, labels: Tensor, what: str = "proxy") -> Tensor:
    """Class ids ``(B,)`` -> rows ``(B,)``; a ``ValueError`` naming a class without a ``what``."""
    lab = labels.long().to(lookup.device).contiguous()  # searchsorted warns on a strided view
    if lookup.numel() == 0:
        rows = torch.zeros_like(lab)
        bad = torch.ones_like(lab, dtype=torch.bool)
    else:
        rows = torch.searchsorted(lookup, lab).clamp_max(lookup.numel() - 1)
        bad = lookup[rows] != lab
    if bool(bad.any()):
        raise ValueError(
            f"label {int(lab[bad][0])} has no {what}; the loss was built for the training "
            f"classes {lookup.tolist()}"
        )
    return rows
