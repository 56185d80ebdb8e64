"""Batch normalisation over the global batch of a data-parallel run ("global BN", SimCLR §B.9).

With DistributedDataParallel each process normalises with the statistics of its own share of
the batch, so two processes do not train the network one process would on the whole batch, and
a contrastive model can use the per-process statistics to tell which images share a process.
:func:`use_global_batchnorm` turns every ``BatchNorm1d/2d/3d`` of a module into one whose
training-mode statistics (mean, variance, and the running averages) are those of the samples of
*every* process: each process's count, mean and sum of squared deviations are exchanged with an
all-reduce that back-propagates (its gradient is all-reduced too), and combined with Chan's
parallel formula. Unlike ``torch.nn.SyncBatchNorm`` it runs on the CPU (gloo) as well as on
CUDA, and it only swaps the modules' class: the state dict, ``isinstance`` checks and deep
copies are unchanged, and ``restore()`` puts the plain classes back.

Outside a process group (or with one process, or in eval mode) it is ``F.batch_norm``.

>>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
>>> restore = use_global_batchnorm(net)
>>> type(net[1]).__name__
'GlobalBatchNorm1d'
>>> restore(); type(net[1]).__name__
'BatchNorm1d'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from siamkit.distributed import is_distributed
from siamkit.training.callbacks import Callback

if TYPE_CHECKING:
    from siamkit.training.trainer import Trainer


class _SumAcrossProcesses(torch.autograd.Function):
    """``all_reduce(SUM)`` whose gradient is the all-reduced sum of the gradients."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        out = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        out = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out


def all_reduce_with_grad(x: Tensor) -> Tensor:
    """The sum of ``x`` over every process, differentiable (the gradient is summed too)."""
    return _SumAcrossProcesses.apply(x)  # type: ignore[no-any-return]


class _GlobalBatchNormMixin(_BatchNorm):
    """The forward of the global-BN classes (placed before the ``BatchNormNd`` base)."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        self._check_input_dim(x)
        return _global_batch_norm(self, x)


class GlobalBatchNorm1d(_GlobalBatchNormMixin, nn.BatchNorm1d):
    """``BatchNorm1d`` with the statistics of the global batch (see the module docstring)."""


class GlobalBatchNorm2d(_GlobalBatchNormMixin, nn.BatchNorm2d):
    """``BatchNorm2d`` with the statistics of the global batch (see the module docstring)."""


class GlobalBatchNorm3d(_GlobalBatchNormMixin, nn.BatchNorm3d):
    """``BatchNorm3d`` with the statistics of the global batch (see the module docstring)."""


_GLOBAL: dict[type[nn.Module], type[nn.Module]] = {
    nn.BatchNorm1d: GlobalBatchNorm1d,
    nn.BatchNorm2d: GlobalBatchNorm2d,
    nn.BatchNorm3d: GlobalBatchNorm3d,
}


def _global_batch_norm(bn: _BatchNorm, x: Tensor) -> Tensor:
    """Normalise ``x`` (N, C, ...) with the mean and variance of every process's ``x``."""
    dims = [0, *range(2, x.dim())]
    xf = x.float()
    c = x.shape[1]
    n_local = float(x.numel() // c)
    mean = xf.mean(dim=dims)  # (C,)
    m2 = (xf - mean.view(1, c, *[1] * (x.dim() - 2))).square().sum(dim=dims)  # (C,)
    world, rank = dist.get_world_size(), dist.get_rank()
    # every process's (count, mean, M2) in its own row; a summing all-reduce gathers them with
    # gradient (the backward all-reduces the gradients, so each process gets its rows' share)
    mine = torch.stack([mean.new_full((c,), n_local), mean, m2]).unsqueeze(0)  # (1, 3, C)
    rows = torch.cat([mine.new_zeros(rank, 3, c), mine, mine.new_zeros(world - rank - 1, 3, c)])
    rows = all_reduce_with_grad(rows)  # (W, 3, C)
    counts, means, m2s = rows[:, 0, :1], rows[:, 1], rows[:, 2]  # (W, 1), (W, C), (W, C)
    total = counts.sum()
    g_mean = (counts * means).sum(dim=0) / total
    g_m2 = m2s.sum(dim=0) + (counts * (means - g_mean).square()).sum(dim=0)  # Chan et al.
    var = g_m2 / total  # biased, as batch norm normalises with
    if bn.track_running_stats and bn.running_mean is not None and bn.running_var is not None:
        with torch.no_grad():
            if bn.num_batches_tracked is not None:
                bn.num_batches_tracked.add_(1)
            # momentum None: a cumulative average, as _BatchNorm keeps it
            n_seen = float(bn.num_batches_tracked) if bn.num_batches_tracked is not None else 1.0
            factor = 1.0 / n_seen if bn.momentum is None else bn.momentum
            unbiased = g_m2 / max(float(total) - 1.0, 1.0)
            bn.running_mean.mul_(1 - factor).add_(g_mean.detach(), alpha=factor)
            bn.running_var.mul_(1 - factor).add_(unbiased.detach(), alpha=factor)
    shape = (1, c, *[1] * (x.dim() - 2))
    y = (xf - g_mean.view(shape)) * torch.rsqrt(var.view(shape) + bn.eps)
    if bn.affine:
        y = y * bn.weight.view(shape) + bn.bias.view(shape)
    return y.to(x.dtype)


def use_global_batchnorm(module: nn.Module) -> Callable[[], None]:
    """Make every ``BatchNorm1d/2d/3d`` in ``module`` a global one, in place; returns ``restore``.

    Modules of other batch-norm classes (``SyncBatchNorm``, subclasses) are left as they are.
    """
    swapped: list[tuple[nn.Module, type[nn.Module]]] = []
    for m in module.modules():
        cls = _GLOBAL.get(type(m))
        if cls is not None:
            swapped.append((m, type(m)))
            m.__class__ = cls

    def restore() -> None:
        for m, original in swapped:
            m.__class__ = original

    return restore


class UseGlobalBatchNorm(Callback):
    """A :class:`~siamkit.training.trainer.Trainer` callback: in a distributed run, ``module``'s
    batch norms use the global batch's statistics from the start of ``fit`` to its end."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.restore: Callable[[], None] | None = None

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        if trainer.ctx.enabled and self.restore is None:
            self.restore = use_global_batchnorm(self.module)

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.restore is not None:
            self.restore()
            self.restore = None


__all__ = [
    "GlobalBatchNorm1d",
    "GlobalBatchNorm2d",
    "GlobalBatchNorm3d",
    "UseGlobalBatchNorm",
    "use_global_batchnorm",
]
