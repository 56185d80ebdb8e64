"""One optimisation step, usable in your own loop.

>>> import siamkit
>>> net = siamkit.SiameseNetwork(siamkit.encoders.create_encoder("mlp", in_features=8, hidden=(16,)), 4)
>>> loss_fn = siamkit.losses.SupConLoss()
>>> opt = torch.optim.Adam(net.parameters(), 1e-3)
>>> batch = (torch.randn(8, 8), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))
>>> isinstance(train_step(net, batch, loss_fn, opt), float)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn

Gather = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def embed_batch(model: nn.Module, x: Tensor) -> Tensor:
    """``model.embed(x)`` for a siamkit network, else ``model(x)`` (e.g. a DDP-wrapped embedder)."""
    embed = getattr(model, "embed", None)
    return embed(x) if callable(embed) else model(x)


def native_bf16() -> bool:
    """Whether this GPU computes bfloat16 natively (Ampere and later). ``is_bf16_supported()``
    alone also says yes where bfloat16 is only emulated (a V100, a T4), which is slow there:
    those take float16 with a ``GradScaler`` instead."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # an older torch without the argument: its answer as it is
        return bool(torch.cuda.is_bf16_supported())


def autocast_for(device: torch.device, amp: bool) -> Any:
    """``torch.autocast`` on CUDA (bfloat16 where the GPU has it natively, else float16); a
    no-op otherwise."""
    if not amp or device.type != "cuda":
        return nullcontext()
    dtype = torch.bfloat16 if native_bf16() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def mixed_precision(wanted: bool, device: torch.device) -> tuple[bool, torch.amp.GradScaler | None]:
    """``(amp, scaler)`` for :func:`train_step` when a run asks for mixed precision (``wanted``):
    autocast on CUDA only, with a ``GradScaler`` where it runs in float16 (no bfloat16);
    ``(False, None)`` on the CPU."""
    amp = wanted and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if amp and not native_bf16() else None
    return amp, scaler


def backward_and_step(
    loss: Tensor,
    optimizer: torch.optim.Optimizer,
    params: Iterable[Tensor],
    scaler: torch.amp.GradScaler | None = None,
    grad_clip: float | None = None,
) -> None:
    """Back-propagate ``loss`` and step ``optimizer`` (gradients already zeroed): through
    ``scaler`` for float16 autocast (the gradients unscaled before clipping, the step skipped
    where they overflowed), the gradient norm of ``params`` clipped to ``grad_clip`` if given."""
    if scaler is not None:
        scaler.scale(loss).backward()
        if grad_clip is not None:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        scaler.step(optimizer)
        scaler.update()
        return
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()


def train_step(
    model: nn.Module,
    batch: tuple[Tensor, ...],
    loss_fn: Callable[..., Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    amp: bool = False,
    grad_clip: float | None = None,
    gather: Gather | None = None,
    loss_scale: float = 1.0,
) -> float:
    """Embed a batch, compute the loss on the embeddings, back-propagate and step.

    Args:
        model: a network with ``embed`` (or a module whose ``forward`` embeds).
        batch: ``(x (B, ...), labels (B,))`` or ``(x, labels, triplets)`` with triplets indexing
            into the batch (offline mining).
        loss_fn: called as ``loss_fn(z, labels)`` or ``loss_fn(z, labels, triplets)``.
        optimizer: any torch optimiser; gradients are zeroed here.
        scheduler: stepped after the optimiser (per-batch schedules).
        scaler: a ``GradScaler`` for float16 autocast.
        amp: run the forward pass under autocast on CUDA (the loss is computed in float32).
        grad_clip: clip the gradient norm of every parameter ``optimizer`` steps (the
            network's and the loss's own, e.g. class proxies), as one vector, to this value.
        gather: ``(z, labels) -> (all_z, all_labels)`` across processes (distributed training).
        loss_scale: multiply the loss before ``backward`` (DDP averages gradients over ranks).

    Returns:
        The loss as a Python float.
    """
    x, labels = batch[0], batch[1]
    triplets = batch[2] if len(batch) > 2 else None
    model.train()
    device = x.device
    with autocast_for(device, amp):
        z = embed_batch(model, x)  # (B, D)
    z = z.float()
    if gather is not None:
        z, labels = gather(z, labels)
    loss = loss_fn(z, labels) if triplets is None else loss_fn(z, labels, triplets)
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"the loss became {float(loss.detach())}; lower optim.lr or check the data for NaN values"
        )
    optimizer.zero_grad(set_to_none=True)
    # clip what the optimiser steps: the model's parameters alone left a loss's class proxies
    # (trained at optim.loss_lr_factor x the rate) unclipped and out of the norm
    stepped = [p for group in optimizer.param_groups for p in group["params"]]
    backward_and_step(loss * loss_scale, optimizer, stepped, scaler, grad_clip)
    if scheduler is not None:
        scheduler.step()
    return float(loss.detach())
