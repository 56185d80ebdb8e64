"""Gather embeddings across processes (PyTorch DDP) so mining and losses see the global batch.

Every rank gets the concatenation of all ranks' embeddings, in rank order. The local slice is the
rank's own tensor, so gradients flow back to the local embeddings; the other ranks' slices are
constants here (their own ranks back-propagate through them). With every rank computing the loss
on the gathered batch, each rank's gradient on its local embeddings equals that of one process
holding the whole batch. DDP then *averages* parameter gradients over ranks, so multiply the loss
by the world size (``loss * world_size``) to get exactly the single-process gradient, or gather
with :func:`gather_embeddings_for_ddp`, which scales the local slice's gradient instead: that is
exact also for parameters the loss holds itself (class proxies, a learned distance), whose
gradient every rank computes whole from the gathered batch, so that a scaled loss multiplies it
by the world size.

Batches may differ in size between ranks. Without an initialised process group (or with one
process) the functions return their inputs unchanged.

>>> z_all, y_all = gather_embeddings(torch.randn(4, 8), torch.arange(4))   # one process: no-op
>>> z_all.shape
torch.Size([4, 8])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from siamkit.launch_env import other_rank


def is_distributed() -> bool:
    """True inside an initialised process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    """Whether this process says and writes what a run says and writes once (its log lines, the
    image cache, the model, the summary): rank 0 of a process group; before one is joined, every
    process but a later one of a torchrun launch (:func:`siamkit.launch_env.other_rank`:
    ``WORLD_SIZE`` > 1 and ``RANK`` > 0, both read as integers; a value that is none is not a
    launch's, so this process is the main one). A bare ``RANK`` is no launch: a one-process
    command run where the shell sets it (a cluster job's environment) trains alone, and said and
    saved nothing (s57_c3, s58_r2)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return not other_rank()


def world_size() -> int:
    """Number of processes (1 outside a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _gather_constant(x: Tensor) -> list[Tensor]:
    """All ranks' ``x`` (first dimensions may differ), without gradient."""
    world = dist.get_world_size()
    n = torch.tensor([x.shape[0]], dtype=torch.long, device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    counts = [int(s) for s in sizes]
    biggest = max(counts)
    padded = x.new_zeros((biggest, *x.shape[1:]))
    padded[: x.shape[0]] = x.detach()
    out = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(out, padded.contiguous())
    return [t[:c] for t, c in zip(out, counts)]


def all_gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from every rank along dim 0; gradients flow to this rank's ``x``.

    Args:
        x: ``(N_r, ...)`` on each rank ``r`` (``N_r`` may differ between ranks).

    Returns:
        ``(sum_r N_r, ...)`` in rank order; ``x`` itself when not distributed.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"all_gather_with_grad takes a tensor, got {type(x).__name__}")
    if not is_distributed():
        return x
    parts = _gather_constant(x)
    parts[dist.get_rank()] = x  # the local slice keeps its autograd history
    return torch.cat(parts, dim=0)


def gather_embeddings(z: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Global batch ``(z_all (B, D), labels_all (B,))`` from every rank's ``(B_r, D)``, ``(B_r,)``.

    A no-op when ``torch.distributed`` is not initialised. Gradients flow to the local ``z``.
    """
    if z.dim() != 2 or labels.dim() != 1 or labels.shape[0] != z.shape[0]:
        raise ValueError(
            f"expected z (B, D) and labels (B,), got {tuple(z.shape)} and {tuple(labels.shape)}"
        )
    if not is_distributed():
        return z, labels
    all_labels = torch.cat(_gather_constant(labels.to(z.device)), dim=0)
    return all_gather_with_grad(z), all_labels


class _ScaleGrad(torch.autograd.Function):
    """The identity forward; the gradient multiplied by ``scale`` backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad * ctx.scale, None


def gather_embeddings_for_ddp(z: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`gather_embeddings`, with the gradient reaching the local ``z`` multiplied by the
    world size: under DistributedDataParallel (which averages parameter gradients over ranks)
    the loss on the gathered batch then gives every parameter its one-process gradient **without**
    scaling the loss: the network's (each rank back-propagates its own slice) and those the loss
    holds itself, such as class proxies or a learned distance (each rank computes theirs whole,
    the same on every rank). Scaling the loss by the world size instead multiplied the latter
    by it. A no-op in one process.

    >>> z_all, y_all = gather_embeddings_for_ddp(torch.randn(4, 8), torch.arange(4))
    >>> z_all.shape
    torch.Size([4, 8])
    """
    if not is_distributed():
        return gather_embeddings(z, labels)
    return gather_embeddings(_ScaleGrad.apply(z, float(dist.get_world_size())), labels)
