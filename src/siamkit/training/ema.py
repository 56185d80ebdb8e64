"""An exponential moving average of a network's weights (Polyak averaging, timm's ``ModelEma``).

After every optimiser step, each floating-point entry of the state (parameters and batch-norm
statistics) moves towards the network's: ``avg = decay * avg + (1 - decay) * current``; integer
entries (batch-norm's step counter) are copied.

``exclude_initial=True`` (what ``siamkit train`` uses) leaves the random initial weights out:
after ``n`` updates the average is ``sum_i decay**(n-i) * (1 - decay) * w_i / (1 - decay**n)``
over the weights ``w_1 .. w_n`` after each step (Adam's bias correction, applied to the weights).
Without it the initial weights keep a share ``decay**n``: 44% after 410 steps at decay 0.998,
which on a short run makes the "averaged" model partly the untrained one. The averaged weights change slowly where the
network's last weights jump from batch to batch, so what a model trained on a few classes does
on unseen ones varies less from epoch to epoch and from seed to seed.

>>> net = torch.nn.Linear(2, 1)
>>> ema = WeightAverage(net, decay=0.9)
>>> with torch.no_grad():
...     _ = net.weight.add_(1.0)
>>> ema.update(net)
>>> with ema.applied_to(net):  # the averaged weights inside, the network's own after
...     pass
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

#: the key of the update count in :meth:`WeightAverage.state_dict` (not a state key of a network)
STEPS_KEY = "__ema_steps__"


def network_state(average_state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A :meth:`WeightAverage.state_dict` as a network's state (without the update count)."""
    return {k: v for k, v in average_state.items() if k != STEPS_KEY}


class WeightAverage:
    """The moving average of ``net``'s state, starting from its current weights.

    Args:
        net: the network being trained (its state keys and shapes are fixed from here on).
        decay: the share of the old average kept at each update, in ``(0, 1)``; about
            ``1 / (1 - decay)`` recent steps count (0.998: the last ~500).
        exclude_initial: average only the weights after each update (bias-corrected): the
            first update makes the average the network's weights, and the initial ones never
            count. ``False``: the classic average that starts from the initial weights (what a
            momentum target network, BYOL's, needs).

    Raises:
        ValueError: ``decay`` outside ``(0, 1)``.
    """

    def __init__(self, net: nn.Module, decay: float, exclude_initial: bool = False) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight-average decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.exclude_initial = exclude_initial
        #: updates so far; ``None`` after loading an average saved without its count (an old
        #: checkpoint): it then goes on as the classic average it was
        self.steps: int | None = 0
        self.state: dict[str, Tensor] = {k: v.detach().clone() for k, v in net.state_dict().items()}

    def _step_decay(self) -> float:
        """The decay of this update: ``decay``, or the bias-corrected one that weighs the ``n``
        updates as ``decay**(n-i) (1 - decay) / (1 - decay**n)`` (0 at the first: no initial
        weights)."""
        n = self.steps
        if not self.exclude_initial or n is None:
            return self.decay
        d = self.decay
        return d * (1.0 - d ** (n - 1)) / (1.0 - d**n)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """Move the average one step towards ``net``'s current state; the average follows
        ``net`` to its device (one made before ``net`` moved to a GPU, as BYOL's target is,
        stays behind on the CPU otherwise)."""
        if self.steps is not None:
            self.steps += 1
        decay = self._step_decay()
        for key, value in net.state_dict().items():
            avg = self.state[key]
            if avg.device != value.device:
                avg = self.state[key] = avg.to(value.device)
            if avg.is_floating_point():
                avg.lerp_(value.detach(), 1.0 - decay)
            else:
                avg.copy_(value)

    def copy_to(self, net: nn.Module) -> None:
        """Load the averaged weights into ``net`` (in place)."""
        net.load_state_dict(self.state)

    @contextmanager
    def applied_to(self, net: nn.Module) -> Iterator[nn.Module]:
        """``net`` holds the averaged weights inside the block and its own again after it."""
        own = {k: v.detach().clone() for k, v in net.state_dict().items()}
        self.copy_to(net)
        try:
            yield net
        finally:
            net.load_state_dict(own)

    def state_dict(self) -> dict[str, Tensor]:
        """The averaged state, for a checkpoint (with the update count under :data:`STEPS_KEY`)."""
        out = dict(self.state)
        if self.steps is not None:
            out[STEPS_KEY] = torch.tensor(self.steps, dtype=torch.int64)
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` returned (a resumed run). An average saved before the
        count was kept has none: it goes on with the plain ``decay``, as it was made."""
        weights = network_state(state)
        if weights.keys() != self.state.keys():
            raise ValueError("the checkpoint's weight average does not match this network")
        for key, value in weights.items():
            self.state[key].copy_(value)
        self.steps = int(state[STEPS_KEY]) if STEPS_KEY in state else None
