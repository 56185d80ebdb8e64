"""Per-epoch generators and offline-mining batches, reproducible from ``(seed, epoch)``.

Online P×K batches come from :class:`siamkit.data.samplers.PKSampler` (also a function of
``(seed, epoch)`` only). Together an epoch's batches do not depend on what ran before it, so a
run resumed at an epoch boundary sees exactly the batches of an uninterrupted run. With several
processes each takes every ``world``-th batch, and draws its augmentation from its own generator
(:func:`rank_generator`).

>>> sel = list(triplet_batches(10, per_batch=3, steps=5, seed=0, epoch=0))
>>> len(sel), sel[0].shape
(3, torch.Size([3]))
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A CPU generator for ``(seed, epoch, stream)``; different streams never share draws."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 97 + stream)


def rank_generator(
    seed: int, epoch: int, rank: int, world: int, stream: int = 2
) -> torch.Generator:
    """The generator of process ``rank`` of ``world`` for ``(seed, epoch, stream)``: one process
    draws the epoch's ``stream`` (:func:`epoch_generator`, as a run on one process always did);
    under torchrun each process its own, so the processes do not give their batches the same
    crops, flips and erasings position by position (the same draws on every process repeated
    each augmentation ``world`` times in a step's global batch)."""
    if world == 1:
        return epoch_generator(seed, epoch, stream)
    state = np.random.SeedSequence([seed, epoch, stream, rank, world]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


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
