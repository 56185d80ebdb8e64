"""Batched, seeded image augmentation for training (applied to float ``(B, C, H, W)`` in [0, 1]).

``make_augmentation(name)`` returns ``None`` for ``"none"`` or a callable
``augment(x, generator) -> x``; every random draw comes from ``generator`` so epochs replay
exactly on resume.

>>> aug = make_augmentation("light")
>>> aug(torch.rand(4, 1, 28, 28), torch.Generator().manual_seed(0)).shape
torch.Size([4, 1, 28, 28])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Augment = Callable[[Tensor, torch.Generator], Tensor]


def random_shift(x: Tensor, pad: int, gen: torch.Generator) -> Tensor:
    """Shift each image by up to ``pad`` pixels (zero padding, then a random crop)."""
    b, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    rows = (oy[:, None] + torch.arange(h)[None]).view(b, 1, h, 1).expand(b, c, h, w)
    cols = (ox[:, None] + torch.arange(w)[None]).view(b, 1, 1, w).expand(b, c, h, w)
    return xp[torch.arange(b).view(b, 1, 1, 1), torch.arange(c).view(1, c, 1, 1), rows, cols]


def random_hflip(x: Tensor, gen: torch.Generator, p: float = 0.5) -> Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = (torch.rand(x.shape[0], generator=gen) < p).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def random_erase(x: Tensor, gen: torch.Generator, p: float = 0.3, frac: float = 0.4) -> Tensor:
    """Zero a random square of up to ``frac`` of the side in each image, with probability ``p``."""
    b, _, h, w = x.shape
    side = torch.randint(2, max(3, int(frac * min(h, w)) + 1), (b,), generator=gen)
    cy = torch.randint(0, h, (b,), generator=gen)
    cx = torch.randint(0, w, (b,), generator=gen)
    on = torch.rand(b, generator=gen) < p
    ys = (torch.arange(h)[None] - cy[:, None]).abs() <= side[:, None] // 2
    xs = (torch.arange(w)[None] - cx[:, None]).abs() <= side[:, None] // 2
    mask = ys[:, :, None] & xs[:, None, :] & on[:, None, None]
    return x.masked_fill(mask[:, None], 0.0)


def make_augmentation(name: str) -> Augment | None:
    """``"none"`` -> ``None``; ``"light"``: ±2 px shift + horizontal flip; ``"strong"``: + erasing."""
    if name == "none":
        return None
    if name not in ("light", "strong"):
        raise ValueError(f"unknown augmentation {name!r}; choose none, light or strong")

    def augment(x: Tensor, gen: torch.Generator) -> Tensor:
        pad = max(1, round(x.shape[-1] / 14))
        x = random_hflip(random_shift(x, pad, gen), gen)
        return random_erase(x, gen) if name == "strong" else x

    return augment
