"""Optimisers and learning-rate schedules by name (``optim.optimizer``, ``optim.schedule``).

Both are :class:`~siamkit.registry.Registry` s: an optimiser factory takes the parameters and
``lr``, ``weight_decay``, ``momentum``; a schedule factory takes the optimiser, the total number
of steps, ``lr``, ``warmup_fraction`` and ``cycle_momentum`` and is stepped every batch. A
schedule keeps each param group's rate at its ratio to the first group's (the loss's own
parameters train at ``optim.loss_lr_factor`` × the network's rate).

>>> opt = OPTIMIZERS.build("adamw", params=[torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
>>> SCHEDULES.names()
['constant', 'cosine', 'onecycle']
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from siamkit.registry import Registry

OPTIMIZERS: Registry[torch.optim.Optimizer] = Registry("optimizer")
SCHEDULES: Registry[Any] = Registry("schedule")


def _adam(params: Iterable[Any], lr: float, weight_decay: float = 0.0, momentum: float = 0.9) -> torch.optim.Optimizer:  # fmt: skip
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _adamw(params: Iterable[Any], lr: float, weight_decay: float = 0.0, momentum: float = 0.9) -> torch.optim.Optimizer:  # fmt: skip
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def _sgd(params: Iterable[Any], lr: float, weight_decay: float = 0.0, momentum: float = 0.9) -> torch.optim.Optimizer:  # fmt: skip
    """SGD with Nesterov momentum; plain SGD at ``momentum`` 0 (Nesterov needs a momentum, and
    torch refuses it without one)."""
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay
    )


def lr_factor(step: int, total: int, schedule: str, warmup_fraction: float) -> float:
    """Multiplier of the base learning rate at ``step`` of ``total`` (linear warm-up, then the schedule).

    >>> lr_factor(0, 100, "constant", 0.0)
    1.0
    """
    warm = int(warmup_fraction * total) if schedule != "constant" else 0
    if step < warm:
        return (step + 1) / warm
    if schedule == "constant":
        return 1.0
    t = min(1.0, (step - warm) / max(1, total - warm))
    return 0.5 * (1.0 + math.cos(math.pi * t))


def _lambda(schedule: str) -> Any:
    def make(optimizer: torch.optim.Optimizer, total_steps: int, lr: float = 0.0,
             warmup_fraction: float = 0.0, cycle_momentum: bool = True) -> Any:  # fmt: skip
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, total_steps, schedule, warmup_fraction)
        )

    return make


def _onecycle(optimizer: torch.optim.Optimizer, total_steps: int, lr: float = 0.0,
              warmup_fraction: float = 0.15, cycle_momentum: bool = True) -> Any:  # fmt: skip
    """torch's ``OneCycleLR``: warm-up share ``warmup_fraction``, cosine annealing to ``lr``'s end.

    ``lr`` is the first param group's peak; every other group peaks at its own rate's multiple
    of the first's (the loss's proxies at ``optim.loss_lr_factor`` × ``lr``)."""
    rates = [float(g["lr"]) for g in optimizer.param_groups]
    peaks = [lr * (r / rates[0]) for r in rates] if rates[0] > 0 else lr
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=peaks, total_steps=total_steps, pct_start=warmup_fraction,
        cycle_momentum=cycle_momentum,
    )  # fmt: skip


OPTIMIZERS.register("adam", _adam)
OPTIMIZERS.register("adamw", _adamw)
OPTIMIZERS.register("sgd", _sgd)
SCHEDULES.register("constant", _lambda("constant"))
SCHEDULES.register("cosine", _lambda("cosine"))
SCHEDULES.register("onecycle", _onecycle)
