"""Training augmentation by name, built from :mod:`siamkit.data.transforms` (batched, seeded).

``make_augmentation(name)`` returns ``None`` for ``"none"`` or a callable
``augment(x (B, C, H, W), generator) -> x``; every random draw comes from ``generator``, so an
epoch replays exactly on resume.

* ``"shift-flip"`` (the demo's): shift by up to 2 px (1 px per 14 px of image side, at least 1)
  and mirror half of the images left-right;
* ``"light"`` and ``"standard"``: :func:`siamkit.data.transforms.build_augmentation` recipes.

>>> aug = make_augmentation("shift-flip")
>>> aug(torch.rand(4, 1, 28, 28), torch.Generator().manual_seed(0)).shape
torch.Size([4, 1, 28, 28])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from siamkit.data.transforms import (
    Compose,
    RandomHorizontalFlip,
    RandomShift,
    Transform,
    build_augmentation,
)

Augment = Callable[[Tensor, torch.Generator], Tensor]
AUGMENTATION_NAMES = ("none", "shift-flip", "light", "standard")


def make_augmentation(name: str) -> Augment | None:
    """The augmentation called ``name`` (see the module docstring); ``None`` for ``"none"``."""
    if name == "none":
        return None
    if name not in AUGMENTATION_NAMES:
        raise ValueError(
            f"unknown augmentation {name!r}; choose one of {', '.join(AUGMENTATION_NAMES)}"
        )
    cache: dict[int, Transform] = {}

    def augment(x: Tensor, gen: torch.Generator) -> Tensor:
        side = int(x.shape[-1])
        if side not in cache:
            if name == "shift-flip":
                cache[side] = Compose(
                    [RandomShift(max(1, round(side / 14))), RandomHorizontalFlip(0.5)]
                )
            else:
                cache[side] = build_augmentation(name)
        return cache[side](x, generator=gen)

    return augment
