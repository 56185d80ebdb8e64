"""Data-parallel set-up for runs launched by ``torchrun`` (``WORLD_SIZE`` > 1).

Each process trains on its own P×K batches; embeddings and labels are gathered across processes
before the loss, so mining sees the global batch
(``siamkit.distributed.gather_embeddings_for_ddp``), and batch norms normalise over every
process's batch (``siamkit.training.global_bn``). Only rank 0 writes files.

>>> ctx = setup_distributed("cpu")
>>> ctx.world, ctx.is_main
(1, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from siamkit.clauses import counted
from siamkit.distributed import is_main_process as is_main_process  # the one rule, re-exported
from siamkit.launch_env import env_local_rank, env_local_world, env_rank, env_world


@dataclass(frozen=True)
class DistContext:
    """Where this process runs: ``rank`` of ``world`` processes, on ``device``."""

    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA if available else CPU; ``"cuda"`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device cuda was asked for, but this torch has no usable CUDA GPU; use --device cpu"
        )
    return device


def setup_distributed(device: str = "auto") -> DistContext:
    """Join the process group when launched by torchrun, else a single-process context.

    NCCL is used on CUDA (each process on GPU ``LOCAL_RANK``), gloo on CPU.
    """
    world = env_world()
    dev = resolve_device(device)
    if world <= 1:
        return DistContext(0, 1, dev)
    if dev.type == "cuda":
        local = env_local_rank()
        here = env_local_world()  # torchrun sets LOCAL_WORLD_SIZE
        if max(local + 1, here) > torch.cuda.device_count():
            # torch.cuda.set_device would say only "invalid device ordinal", and NCCL cannot put
            # two processes on one GPU; every process refuses, so none waits for the others
            raise ValueError(
                f"torchrun started {max(local + 1, here)} processes on this machine, but it has "
                f"{counted(torch.cuda.device_count(), 'CUDA GPU')} and each process needs its "
                "own: use --nproc_per_node at most the GPU count, or train on the CPU with "
                "--device cpu"
            )
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), dev)


def refuse_torchrun(task: str, world: int | None = None) -> None:
    """Refuse a launch by ``torchrun`` (``WORLD_SIZE`` > 1) for a task that trains in one process:
    every process would train the whole run alone and write the same files. ``world``: the
    process count of a launch about to start (``siamkit train --nproc-per-node``), in place of
    this process's ``WORLD_SIZE``."""
    if world is None:
        world = env_world()
    if world > 1:
        raise ValueError(f"task {task} trains in one process: run {launch_form(1)}")


def launch_form(world: int) -> str:
    """The command that trains on ``world`` processes, in each form that launches them: a
    refusal named torchrun's alone, which a user of ``siamkit train --nproc-per-node`` never
    typed (reviewer s56_R7's answer on --resume with the option)."""
    if world == 1:
        return "`siamkit train` without --nproc-per-node or torchrun"
    return f"`siamkit train --nproc-per-node {world}` or torchrun --nproc_per_node={world}"


def check_resumed_world(saved: Any, world: int) -> None:
    """Refuse to resume an embedding run's checkpoint made by ``saved`` processes on ``world``:
    each process draws its own P×K batch, so the count sets the batch, the steps of an epoch
    and the learning-rate schedule's length (a resume with another count restarted the schedule
    part-way, or ran it past its end). A checkpoint that did not record it (``None``) passes."""
    if saved is None or int(saved) == world:
        return
    raise ValueError(
        f"the checkpoint was made by {counted(int(saved), 'process', 'processes')}, not {world}: "
        "resume with "
        f"{launch_form(int(saved))} (the process count sets an embedding run's batch, epoch "
        "length and learning-rate schedule)"
    )


def finish_distributed() -> None:
    """Wait for every process, then leave the process group (none in flight when one leaves)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()
    teardown_distributed()


#: Whether :func:`teardown_distributed` left a process group: a process other than rank 0 leaves
#: it on its way out of an error, before the error reaches the command's handler, which must
#: still know that a group was joined (:func:`lost_process_sentence`).
_left_group = False


def teardown_distributed() -> None:
    """Leave the process group (if one was joined)."""
    global _left_group
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        _left_group = True


class Embedder(nn.Module):
    """``forward(x) = net.embed(x)`` so that DistributedDataParallel can wrap the embedding pass."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net.embed(x, check=False)  # type: ignore[operator]


def wrap_for_training(net: nn.Module, ctx: DistContext, some_frozen: bool = False) -> nn.Module:
    """The module the step calls: the network itself, or in a distributed run an
    :class:`Embedder` wrapped in DistributedDataParallel.

    ``some_frozen``: parameters will stop getting gradients part-way (``requires_grad`` turned
    off after wrapping, e.g. ``model.freeze_encoder_epochs``). DDP then looks for the unused ones
    every step; without it the second step stopped with "Expected to have finished reduction in
    the prior iteration". Their gradients stay ``None`` (unused on every process), so the
    optimiser leaves them alone."""
    if not ctx.enabled:
        return net
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        Embedder(net), device_ids=ids, find_unused_parameters=some_frozen
    )


def share_of_batch(batch_size: int, world: int) -> int:
    """Each process's equal share of a global batch of ``batch_size`` over ``world`` processes;
    a one-sentence ``ValueError`` when it does not divide (or leaves a process nothing)."""
    if batch_size < world or batch_size % world:
        raise ValueError(
            f"train.batch_size = {batch_size} must be a multiple of the {world} processes "
            "(each makes an equal share of every batch)"
        )
    return batch_size // world


def data_parallel(module: nn.Module, ctx: DistContext) -> nn.Module:
    """``module`` itself, or in a distributed run ``module`` wrapped in DistributedDataParallel
    (for modules whose ``forward`` is the training pass, e.g. the applications' trainers)."""
    if not ctx.enabled:
        return module
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def broadcast_module(module: nn.Module, ctx: DistContext) -> None:
    """Rank 0's parameters and buffers of ``module`` on every rank, for modules outside
    DistributedDataParallel (which does this for the network): a loss's class proxies were
    drawn from each process's own random state, which a script that seeds each rank apart
    (``seed + rank``) makes differ, and nothing brought them together again."""
    if not ctx.enabled:
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=0)


def make_gather(ctx: DistContext) -> Any:
    """``(z, labels) -> (all_z, all_labels)`` across processes, or ``None`` in one process; the
    loss on the gathered batch is back-propagated unscaled
    (:func:`~siamkit.distributed.gather_embeddings_for_ddp`)."""
    if not ctx.enabled:
        return None
    from siamkit.distributed import gather_embeddings_for_ddp

    return gather_embeddings_for_ddp


def broadcast_float(value: float | None, ctx: DistContext) -> float | None:
    """Rank 0's ``value`` on every rank (so all ranks take the same early-stopping decision)."""
    if not ctx.enabled:
        return value
    t = torch.tensor(
        [float("nan") if value is None else value], dtype=torch.float64, device=ctx.device
    )
    dist.broadcast(t, src=0)
    out = float(t.item())
    return None if out != out else out


#: What gloo says when the process at the other end of a collective is gone ("Connection closed
#: by peer ... typically caused by a remote worker crashing", "Read error ...: Connection reset
#: by peer"), each from its transport's source file, whose path it names ("[.../gloo/transport/
#: tcp/pair.cc:553] ..."): the words alone are no proof, a data reader or a plugin says them too.
_GLOO_PEER_GONE = ("closed by peer", "reset by peer")

#: What NCCL says then: ncclRemoteError, "remote process exited or there was a network error"
#: ("... possibly due to a network error or a remote process exiting prematurely"). It cannot
#: tell a stopped process from a failed link, so neither can the sentence.
_NCCL_PEER_GONE = ("remote process exited", "remote process exiting")


def _peer_gone(said: str) -> str | None:
    """``"gloo"`` or ``"nccl"`` when ``said`` is that backend's own word that the process at the
    other end of a collective is gone, else ``None``."""
    said = said.replace("\\", "/")  # a Windows build's source path
    if "gloo/transport/" in said and any(p in said for p in _GLOO_PEER_GONE):
        return "gloo"
    if "NCCL" in said and any(p in said for p in _NCCL_PEER_GONE):
        return "nccl"
    return None


def lost_process_sentence(err: BaseException) -> str | None:
    """One sentence for a process of a torchrun launch whose collective failed because another
    process of the launch stopped; ``None`` for any other error.

    Each survivor printed the backend's traceback (gloo's "Connection closed by peer", a page of
    frames) under the dead process's own error, so the cause was lost in the noise. The dead
    process says why itself (its error, above), or says nothing if it was killed; this sentence
    names it where it can be known (a two-process launch) and points there.

    Only the backend's own error counts, and only once this process joined a process group: a
    process's own RuntimeError that merely says "Connection reset by peer" (a data reader's) is
    a bug whose traceback is the thing to read, and a DistNetworkError of its own rendezvous (a
    port taken) names no peer at all. NCCL's error does not tell a stopped process from a failed
    network, so its sentence names both.

    >>> import os
    >>> os.environ.update(RANK="0", WORLD_SIZE="2")
    >>> lost_process_sentence(RuntimeError("reading shard 3: Connection reset by peer")) is None
    True
    >>> del os.environ["RANK"], os.environ["WORLD_SIZE"]
    """
    if not isinstance(err, RuntimeError):
        return None
    backend = _peer_gone(str(err))
    if backend is None or not _group_joined():
        return None
    rank, world = env_rank(), env_world()
    if world <= 1:
        return None
    if world == 2:
        other, whose, codes = f"process {1 - rank}", f"process {1 - rank}'s", "its exit code"
    else:
        # neither backend names the rank at the other end (gloo: "closed by peer
        # [127.0.0.1]:PORT", that connection's port), and that peer may be a survivor ending
        # in turn: the sentence names the others as a set
        other, whose, codes = f"one of the other {world - 1} processes", "its", "the exit codes"
    if backend == "nccl":
        return (
            f"{other} of this {world}-process torchrun launch stopped or the network between "
            f"the processes failed (NCCL cannot tell which), so process {rank} stopped too: if "
            f"{other if world == 2 else 'one'} stopped, {whose} own error, above, says why "
            "(none above: it was killed, for example for want of memory, or the network "
            "failed; the launch's last lines give the exit codes)"
        )
    return (
        f"{other} of this {world}-process torchrun launch stopped, so process {rank} stopped "
        f"too: {whose} own error, above, says why (none above: it was killed, for example for "
        f"want of memory, and the launch's last lines give {codes})"
    )


def _group_joined() -> bool:
    """This process joined a process group: it is in one now, or left it on its way out of the
    error (:func:`teardown_distributed`)."""
    return _left_group or (dist.is_available() and dist.is_initialized())
