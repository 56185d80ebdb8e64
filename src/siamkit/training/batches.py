"""Reproducible P×K batches (P classes × K images each) for one epoch, per process.

Everything random here is drawn from a generator seeded by ``(seed, epoch)``, so an epoch's
batches do not depend on what ran before it: a run resumed at an epoch boundary sees exactly
the batches of an uninterrupted run. With several processes each takes every ``world``-th batch.

>>> labels = torch.tensor([0] * 5 + [1] * 5 + [2] * 5)
>>> b = list(pk_batches(labels, p=2, k=3, steps=4, seed=0, epoch=0))
>>> len(b), b[0].shape
(4, torch.Size([6]))
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A CPU generator for ``(seed, epoch, stream)``; different streams never share draws."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 97 + stream)


def pk_batches(
    labels: Tensor,
    p: int,
    k: int,
    steps: int,
    seed: int,
    epoch: int,
    rank: int = 0,
    world: int = 1,
) -> Iterator[Tensor]:
    """Yield ``steps // world`` index tensors ``(P*K,)`` for this process.

    Within a class, images are taken in a shuffled order without replacement until the class
    runs out, then reshuffled; classes with fewer than ``k`` images are sampled with replacement.
    P is capped at the number of classes.
    """
    gen = epoch_generator(seed, epoch)
    classes = torch.unique(labels)
    if classes.numel() < 2:
        raise ValueError("P×K batches need at least two classes in the training data")
    p = min(p, int(classes.numel()))
    members = [torch.nonzero(labels == c).flatten() for c in classes]
    order = [m[torch.randperm(m.numel(), generator=gen)] for m in members]
    cursor = [0] * len(members)
    for step in range(steps - steps % world):
        chosen = torch.randperm(len(members), generator=gen)[:p].tolist()
        parts = []
        for c in chosen:
            m = members[c]
            if m.numel() < k:
                parts.append(m[torch.randint(m.numel(), (k,), generator=gen)])
                continue
            if cursor[c] + k > m.numel():
                order[c] = m[torch.randperm(m.numel(), generator=gen)]
                cursor[c] = 0
            parts.append(order[c][cursor[c] : cursor[c] + k])
            cursor[c] += k
        if step % world == rank:
            yield torch.cat(parts)


def triplet_batches(
    n_triplets: int,
    per_batch: int,
    steps: int,
    seed: int,
    epoch: int,
    rank: int = 0,
    world: int = 1,
) -> Iterator[Tensor]:
    """Yield index tensors into a list of ``n_triplets`` mined triplets, ``per_batch`` at a time."""
    gen = epoch_generator(seed, epoch, stream=1)
    order = torch.randperm(n_triplets, generator=gen)
    n_steps = min(steps, n_triplets // per_batch)
    for step in range(n_steps - n_steps % world):
        if step % world == rank:
            yield order[step * per_batch : (step + 1) * per_batch]


def compact_triplets(a: Tensor, p: Tensor, n: Tensor) -> tuple[Tensor, Tensor]:
    """Unique image indices of some triplets and the triplets re-indexed into them.

    Returns ``(items (U,), local (3, T))`` with ``items[local[0]] == a`` etc.
    """
    items, inverse = torch.unique(torch.cat([a, p, n]), return_inverse=True)
    return items, inverse.view(3, -1)
