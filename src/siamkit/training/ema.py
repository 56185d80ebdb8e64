"""An exponential moving average of a network's weights (Polyak averaging, timm's ``ModelEma``).

After every optimiser step, each floating-point entry of the state (parameters and batch-norm
statistics) moves towards the network's: ``avg = decay * avg + (1 - decay) * current``; integer
entries (batch-norm's step counter) are copied. The averaged weights change slowly where the
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


class WeightAverage:
    """The moving average of ``net``'s state, starting from its current weights.

    Args:
        net: the network being trained (its state keys and shapes are fixed from here on).
        decay: the share of the old average kept at each update, in ``(0, 1)``; about
            ``1 / (1 - decay)`` recent steps count (0.998: the last ~500).

    Raises:
        ValueError: ``decay`` outside ``(0, 1)``.
    """

    def __init__(self, net: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight-average decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.state: dict[str, Tensor] = {k: v.detach().clone() for k, v in net.state_dict().items()}

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """Move the average one step towards ``net``'s current state."""
        for key, value in net.state_dict().items():
            avg = self.state[key]
            if avg.is_floating_point():
                avg.lerp_(value.detach(), 1.0 - self.decay)
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
        """The averaged state, for a checkpoint."""
        return dict(self.state)

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` returned (a resumed run)."""
        if state.keys() != self.state.keys():
            raise ValueError("the checkpoint's weight average does not match this network")
        for key, value in state.items():
            self.state[key].copy_(value)
