"""Running a test's work on two CPU processes joined by gloo (the distributed tests).

``run_ranks(work, out_dir)`` spawns the ranks; each calls ``work(rank, world, out_dir)`` inside an
initialised process group, then waits for the other before tearing gloo down: a rank that destroyed
its group while the other still had work in flight aborted ("terminate called without an active
exception"). ``work`` must be a module-level function (it is pickled into the new processes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank(
    rank: int, work: Callable[[int, int, str], None], world: int, port: int, out: str
) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        work(rank, world, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run_ranks(work: Callable[[int, int, str], None], out: Path, world: int = 2) -> None:
    """Run ``work(rank, world, str(out))`` on ``world`` gloo processes; raises if any rank fails."""
    torch.multiprocessing.spawn(
        _rank, args=(work, world, _free_port(), str(out)), nprocs=world, join=True
    )


def run_in_session(
    cmd: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(cmd, capture_output=True, text=True)`` in a session of its own, whose
    whole process group is killed if it outlives ``timeout`` (then raises ``TimeoutExpired``).

    ``subprocess.run``'s timeout kills the process it started only: a launcher's (torchrun's)
    processes went on running, burning the cores or waiting in a collective until gloo's own
    timeout (reviewer s56_R7 finding 6)."""
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    ) as proc:  # fmt: skip
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(cmd, timeout, out, err) from None
        finally:
            kill_group(proc)  # what it left behind (its group outlives it)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process group of ``proc``, started with ``start_new_session=True``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def torchrun_siamkit(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc_per_node=2 -m siamkit ARGS`` on a free port, one thread per process,
    with this checkout's ``src`` first on the path; the finished process (not checked)."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={_free_port()}", "-m", "siamkit", *args,
    ]  # fmt: skip
    return run_in_session(cmd, env, timeout)
