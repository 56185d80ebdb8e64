"""A CPU stand-in for tensors that ``torch.load(map_location="cuda")`` puts on a GPU.

Resuming reads the checkpoint onto the training device, generator states too; on a GPU NumPy
cannot read them and torch's generators refuse them until they are copied back (seen on an H200:
"can't convert cuda:0 device type tensor to numpy"). :class:`OnGPU` fails the same way on the CPU,
and :func:`refuse_gpu_rng_states` makes ``torch.set_rng_state`` refuse it as a GPU tensor.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch


class OnGPU(torch.Tensor):
    """A tensor that cannot be read as NumPy, or restore a generator, until ``.cpu()``."""

    def numpy(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise TypeError("can't convert cuda:0 device type tensor to numpy")

    def cpu(self, *args: Any, **kwargs: Any) -> torch.Tensor:  # type: ignore[override]
        # a plain tensor on the CPU (where the test runs on a GPU, it really was there)
        return super().cpu(*args, **kwargs).as_subclass(torch.Tensor)


def on_gpu(obj: Any) -> Any:
    """``obj`` with every tensor inside (dicts, lists, tuples) an :class:`OnGPU`."""
    if isinstance(obj, torch.Tensor):
        return obj.as_subclass(OnGPU)
    if isinstance(obj, dict):
        return {k: on_gpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(on_gpu(v) for v in obj)
    return obj


def refuse_gpu_rng_states(monkeypatch: pytest.MonkeyPatch) -> None:
    """``torch.set_rng_state`` refuses an :class:`OnGPU` state, as it refuses a CUDA tensor."""
    real = torch.set_rng_state

    def refusing(new_state: torch.Tensor) -> None:
        if isinstance(new_state, OnGPU):
            raise TypeError("RNG state must be a torch.ByteTensor on the CPU")
        real(new_state)

    monkeypatch.setattr(torch, "set_rng_state", refusing)
