"""Where a run's batches come from: P×K batches of a labelled image (or vector) set.

A batch source is anything with ``steps`` (batches per epoch on this process) and
``epoch(e) -> Iterator[batch]``; one whose epochs differ in length (the tracker's last epoch is
shorter) also has ``steps_in(e)``, and :func:`epoch_steps` asks it first. A batch is ``(x (B, ...), labels (B,))`` or, with offline
mining, ``(x, labels, Triplets)`` indexing into it. The plan of every epoch depends only on
``(seed, epoch)``, so a resumed run sees the batches an uninterrupted one would.

>>> source = PKBatches(data.train_x, data.train_y, p=6, k=8)  # doctest: +SKIP
>>> x, y = next(iter(source.epoch(0)))  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch
from torch import Tensor

from siamkit.data.samplers import PKSampler
from siamkit.losses.functional import check_tensors
from siamkit.training.batches import (
    compact_triplets,
    epoch_generator,
    rank_generator,
    triplet_batches,
)
from siamkit.training.data import to_float
from siamkit.types import Triplets

#: ``(embed(x) -> z, x, labels, generator) -> Triplets`` over a pool (offline mining).
OfflineMiner = Callable[[Tensor, Tensor, torch.Generator], Triplets]


class BatchSource(Protocol):
    """What the :class:`~siamkit.training.trainer.Trainer` iterates over: ``steps`` batches an
    epoch, unless the source also says ``steps_in(epoch)`` (see :func:`epoch_steps`); its
    progress is "epoch 1/N" unless the source names it with ``epoch_name(epoch)``
    (:func:`epoch_name`)."""

    steps: int

    def epoch(self, epoch: int) -> Iterator[tuple[Any, ...]]:
        """The batches of epoch ``epoch`` (0-based), each a tuple the objective takes (``(x, y)``
        for :class:`PKBatches`, which gives the same batches for the same epoch: resumable)."""
        ...


def epoch_name(batches: BatchSource, epoch: int, epochs: int) -> str:
    """What the progress of epoch ``epoch`` (0-based) of ``epochs`` is called: the source's
    ``epoch_name(epoch)`` where it has one (a tracker run's blocks of steps: "steps 1-200 of
    2000"), else ``"epoch 1/N"``."""
    name = getattr(batches, "epoch_name", None)
    return str(name(epoch)) if callable(name) else f"epoch {epoch + 1}/{epochs}"


def epoch_steps(batches: BatchSource, epoch: int) -> int:
    """How many batches ``batches.epoch(epoch)`` yields: the source's ``steps_in(epoch)`` where
    it has one (epochs of different lengths), else its ``steps``; nothing is changed by asking."""
    steps_in = getattr(batches, "steps_in", None)
    return int(steps_in(epoch)) if callable(steps_in) else batches.steps


def triplets_per_batch(p: int, k: int) -> int:
    """Mined triplets an offline-mining batch takes: a third of the ``p x k`` items a P×K batch
    holds (a triplet brings up to three)."""
    return max(1, p * k // 3)


class PKBatches:
    """P classes × K items per batch from ``(x (N, ...), y (N,))``, on ``device``.

    Args:
        x, y: the training items (uint8 images are scaled to [0, 1] per batch) and labels.
        p, k: classes per batch (capped at the number of classes) and items per class.
        steps_per_epoch: batches per epoch over all processes; ``None`` = one pass.
        seed: seeds the sampler and augmentation, per epoch.
        augment: ``(x, generator) -> x`` applied to each batch, or ``None``; each process draws
            from its own generator (:func:`~siamkit.training.batches.rank_generator`).
        device: where batches go (the items are moved there once).
        rank, world: this process and how many train together (DDP).
        channels_last: lay image batches out as channels-last (faster convolutions).
        offline: ``(x_pool, y_pool, generator) -> Triplets`` mining a pool with the frozen model;
            when given, batches are the mined triplets' items, ``offline_pool`` at a time.
        offline_pool: items embedded per offline-mining round (``None``: the whole set).
        class_power: draw classes by ``count ** class_power`` (imbalanced data; see PKSampler).
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        p: int,
        k: int,
        *,
        steps_per_epoch: int | None = None,
        seed: int = 0,
        augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
        device: torch.device | str = "cpu",
        rank: int = 0,
        world: int = 1,
        channels_last: bool = False,
        offline: OfflineMiner | None = None,
        offline_pool: int | None = None,
        class_power: float | None = None,
    ) -> None:
        check_tensors("PKBatches", x=x, y=y)
        if y.dim() != 1 or x.dim() < 1 or x.shape[0] != y.shape[0]:
            raise ValueError(
                f"PKBatches needs one label per item: x is shaped {tuple(x.shape)}, y "
                f"{tuple(y.shape)} (y must be 1-D, as long as x)"
            )
        self.cpu_x, self.cpu_y = x, y
        self.x, self.y = x.to(device), y.to(device)  # uint8 Fashion-MNIST is 25 MB: no copies
        self.p, self.k, self.seed, self.augment = p, k, seed, augment
        self.rank, self.world, self.channels_last = rank, world, channels_last
        self.offline, self.offline_pool = offline, offline_pool
        n_classes = int(torch.unique(y).numel())
        self.sampler = PKSampler(
            y, p=min(p, n_classes), k=k, seed=seed, drop_last=True, rank=rank, world_size=world,
            class_power=class_power,
        )  # fmt: skip
        if world > 1 and offline is None and len(self.sampler) == 0:
            # the plan is cut to a multiple of the processes: a step needs a batch on each
            raise ValueError(
                f"the {len(y)} training images make fewer batches of {self.sampler.p} classes x "
                f"{k} images an epoch than the {world} processes that each draw their own: "
                "train in fewer processes, on more images, or in smaller batches "
                "(train.classes_per_batch, train.samples_per_class)"
            )
        planned = max(1, len(self.sampler))  # batches per rank and epoch
        self.steps = min(planned, max(1, steps_per_epoch // world)) if steps_per_epoch else planned

    def _batch(self, idx: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        idx = idx.to(self.x.device)
        x = to_float(self.x[idx])  # (B, C, H, W) in [0, 1], on the run's device
        if self.augment is not None:
            x = self.augment(x, gen)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.y[idx]

    def epoch(self, epoch: int) -> Iterator[tuple[Any, ...]]:
        """The batches of ``epoch`` on this process (``steps`` of them)."""
        if self.offline is not None:
            yield from self._offline_epoch(epoch)
            return
        # each process its own augmentation draws (one process: the epoch's stream 2, as before)
        gen = rank_generator(self.seed, epoch, self.rank, self.world)
        self.sampler.set_epoch(epoch)  # the plan depends only on (seed, epoch): resumable
        for idx in itertools.islice(self.sampler, self.steps):
            yield self._batch(torch.as_tensor(idx), gen)

    def _offline_epoch(self, epoch: int) -> Iterator[tuple[Any, ...]]:
        assert self.offline is not None
        # the pool and the mining draws are the same on every process (each mines the same
        # triplets and takes its share of them); the augmentation is each process's own
        gen = epoch_generator(self.seed, epoch, stream=2)
        pool = torch.randperm(len(self.cpu_y), generator=gen)[: self.offline_pool].sort().values
        a, p, n = self.offline(self.cpu_x[pool], self.cpu_y[pool], gen)
        a, p, n = pool[a], pool[p], pool[n]
        if self.world > 1:
            gen = rank_generator(self.seed, epoch, self.rank, self.world)
        per_batch = triplets_per_batch(self.p, self.k)
        total = self.steps * self.world
        for sel in triplet_batches(
            len(a), per_batch, total, self.seed, epoch, self.rank, self.world
        ):
            items, local = compact_triplets(a[sel], p[sel], n[sel])
            x, y = self._batch(items, gen)
            yield x, y, Triplets(*(v.to(self.x.device) for v in local))
