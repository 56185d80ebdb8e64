"""The one reading of the variables a torchrun launch sets in each process it starts
(``WORLD_SIZE``, ``RANK``, ``LOCAL_WORLD_SIZE``, ``LOCAL_RANK``), before a process group is joined.

Each is read as an integer, as ``int()`` reads it (``" 2"`` and ``"02"`` are 2), and a value that
is no integer (``abc``, ``1.0``, empty) is no launch's: the process is a one-process command's.
Only a launch (``WORLD_SIZE`` above 1) has later processes; a bare ``RANK`` is no launch (a
cluster job's environment, s57_c3, s58_r2). Also the variable siamkit's own launcher sets
(:data:`CTRL_C_SAID`), with which process 0 tells it that it said its Ctrl-C line.

A module of the lowest layer, without torch, so that the command line (which reads it before
torch is imported: its SIGTERM line, the later processes' error sentence, ``siamkit tune``'s
refusal, the launcher's "started by a launcher" test), the training code
(:func:`siamkit.training.ddp.setup_distributed`) and
:func:`siamkit.distributed.is_main_process` read one rule; it was written out in five places,
and one of them compared ``WORLD_SIZE`` to ``"2"`` as a string (s59_c4).

>>> import os
>>> os.environ.update(WORLD_SIZE="02", RANK="1")
>>> env_world(), env_rank(), launched(), other_rank()
(2, 1, True, True)
>>> os.environ["WORLD_SIZE"] = "abc"
>>> env_world(), launched(), other_rank()
(1, False, False)
>>> os.environ["LOCAL_WORLD_SIZE"] = "4"  # bare: no launch's, so one process on this machine
>>> env_local_world(), env_local_rank()
(1, 0)
>>> del os.environ["WORLD_SIZE"], os.environ["RANK"], os.environ["LOCAL_WORLD_SIZE"]
"""

from __future__ import annotations

import contextlib
import os

__all__ = [
    "CTRL_C_SAID",
    "ctrl_c_said",
    "env_local_rank",
    "env_local_world",
    "env_rank",
    "env_world",
    "launched",
    "other_rank",
]

#: The variable siamkit's launcher (``siamkit train --nproc-per-node``) sets for the processes
#: it starts: a file of its own, which process 0 writes to once it has said its Ctrl-C line
#: (:func:`ctrl_c_said`). The launcher stopped by a Ctrl-C says that line itself where process 0
#: did not (it had already ended, or was not started yet), so that a Ctrl-C never ends the
#: launch without a word, and never with two lines (s63_r1 finding 1).
CTRL_C_SAID = "SIAMKIT_CTRL_C_SAID"


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, str(default)))
    except ValueError:  # not a launch's
        return default


def env_world() -> int:
    """This process's ``WORLD_SIZE`` as an integer; 1 when it is unset or no integer."""
    return _env_int("WORLD_SIZE", 1)


def env_rank() -> int:
    """This process's ``RANK`` as an integer; 0 when it is unset or no integer."""
    return _env_int("RANK", 0)


def launched() -> bool:
    """A process of a torchrun launch: ``WORLD_SIZE`` above 1."""
    return env_world() > 1


def other_rank() -> bool:
    """A process of a torchrun launch other than the first: ``RANK`` above 0 of a launch."""
    return launched() and env_rank() > 0


def env_local_world() -> int:
    """How many processes of this launch run on this machine (``LOCAL_WORLD_SIZE``, at least 1).

    1 outside a launch (:func:`launched`), whatever ``LOCAL_WORLD_SIZE`` says: a one-process run
    under a bare value (a cluster job's environment) is one process, and a value that is no
    integer (``abc``) is no launch's."""
    return max(1, _env_int("LOCAL_WORLD_SIZE", 1)) if launched() else 1


def env_local_rank() -> int:
    """This process's place on its machine (``LOCAL_RANK``) in a launch; 0 outside a launch (see
    :func:`env_local_world`) or when it is no integer."""
    return max(0, _env_int("LOCAL_RANK", 0)) if launched() else 0


def ctrl_c_said() -> None:
    """Tell siamkit's launcher, where it started this process, that this process said its
    Ctrl-C line (:data:`CTRL_C_SAID`); nothing outside such a launch. A file that cannot be
    written is let be: the launcher then says the line too, rather than none."""
    path = os.environ.get(CTRL_C_SAID)
    if path:
        with contextlib.suppress(OSError), open(path, "a") as said:
            said.write("said\n")
