"""Atomic training checkpoints: written to a temporary file, flushed, then renamed over the old one.

A checkpoint holds only tensors and plain Python values, so it loads with
``torch.load(weights_only=True)`` (no code is unpickled). A process killed while writing leaves
the previous checkpoint intact, and its temporary file is removed by the next save or load.

>>> save_checkpoint({"epoch": 1, "w": torch.ones(2)}, "/tmp/ck.pt")  # doctest: +SKIP
>>> load_checkpoint("/tmp/ck.pt")["epoch"]  # doctest: +SKIP
1
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siamkit.atomic import atomic_path, remove_stale_temps


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's (CPU and CUDA) global generators."""
    np_state: tuple[Any, ...] = np.random.get_state(legacy=True)  # type: ignore[assignment]
    state: dict[str, Any] = {
        "python": list(random.getstate()[1]),
        "python_gauss": random.getstate()[2],
        "numpy_keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
        "numpy_pos": int(np_state[2]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned.

    The generators' states are read from CPU copies: a checkpoint loaded with
    ``map_location="cuda"`` holds them on the GPU, where NumPy cannot read them and torch's
    generators refuse them.
    """
    random.setstate((3, tuple(state["python"]), state["python_gauss"]))
    keys = state["numpy_keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_pos"], 0, 0.0))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


class CheckpointDiskFull(OSError):
    """The disk had no room for a checkpoint (``errno.ENOSPC``, or ``errno.EDQUOT``: this
    user's quota is used up; its ``filename`` the checkpoint's): ``needed``, the checkpoint's
    size in bytes, and ``free``, the bytes its disk had free after the failed write (the
    temporary file removed); ``None`` where not known (a quota's)."""

    def __init__(
        self,
        path: Path,
        needed: int | None,
        free: int | None,
        strerror: str,
        code: int = errno.ENOSPC,
    ) -> None:
        super().__init__(code, strerror, os.fspath(path))
        self.needed, self.free = needed, free


class _Counter:
    """A file-like sink that only counts what is written to it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def _saved_size(state: dict[str, Any]) -> int | None:
    """The bytes ``torch.save(state)`` writes (counted, nothing kept), or ``None``."""
    sink = _Counter()
    try:
        torch.save(state, sink)  # type: ignore[arg-type]
    except Exception:  # not known: the error says the disk is full without a size
        return None
    return sink.size


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` atomically to ``path`` (tmp file + fsync + ``os.replace``).

    Raises:
        CheckpointDiskFull: the disk is full, or the user's quota used up (the earlier
            checkpoint at ``path``, if any, is left as it was, and no temporary file); it says
            how many bytes the checkpoint needed.
    """
    try:
        with atomic_path(path) as tmp, tmp.open("wb") as fh:
            torch.save(state, fh)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        free: int | None = None  # the disk's free bytes say nothing of a used-up quota
        if err.errno == errno.ENOSPC:
            with contextlib.suppress(OSError):
                free = shutil.disk_usage(Path(path).parent).free
        strerror = err.strerror or os.strerror(err.errno)
        needed = _saved_size(state)
        raise CheckpointDiskFull(Path(path), needed, free, strerror, err.errno) from err
    return Path(path)


def check_checkpoint_there(path: str | os.PathLike[str]) -> Path:
    """``path`` as a ``Path`` when a file is there; else the refusal of a ``--resume`` with no
    checkpoint, :func:`load_checkpoint`'s first. Reads and deletes nothing: ``siamkit train
    --nproc-per-node N --resume`` says it before it starts the processes, which would each
    say it (s60_r5).

    >>> check_checkpoint_there("nothere/checkpoint.pt")
    Traceback (most recent call last):
    FileNotFoundError: no checkpoint at nothere/checkpoint.pt; start without --resume
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no checkpoint at {p}; start without --resume")
    return p


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code runs).

    Raises:
        FileNotFoundError: there is no checkpoint at ``path``.
        ValueError: the file is not a readable checkpoint.
    """
    p = Path(path)
    if p.parent.is_dir():
        remove_stale_temps(p)
    check_checkpoint_there(p)
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:  # objects other than tensors: never load those
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = f" ({found.group(1)})" if found else ""
        raise ValueError(
            f"{p} is not a readable siamkit checkpoint: it holds Python objects other than "
            f"tensors{what}, and siamkit never runs code from a checkpoint"
        ) from None
    except Exception as err:  # a truncated or foreign file; torch's advice is not repeated
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if "weights_only" in first:
            first = "it is not a tensor-only file"
        raise ValueError(f"{p} is not a readable siamkit checkpoint ({first[:200]})") from None
    if not isinstance(state, dict) or "epoch" not in state:
        raise ValueError(f"{p} is not a siamkit training checkpoint")
    return state
