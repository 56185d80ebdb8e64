"""The one reading of the variables a torchrun launch sets in each process it starts
(``WORLD_SIZE``, ``RANK``, ``LOCAL_WORLD_SIZE``, ``LOCAL_RANK``), before a process group is joined.

Each is read as an integer, as ``int()`` reads it (``" 2"`` and ``"02"`` are 2), and a value that
is no integer (``abc``, ``1.0``, empty) is no launch's: the process is a one-process command's.
Only a launch (``WORLD_SIZE`` above 1) has later processes; a bare ``RANK`` is no launch (a
cluster job's environment, s57_c3, s58_r2). Also the variable siamkit's own launcher sets
(:data:`CTRL_C_SAID`), with which process 0 tells it that it said its line of a stop, or that
its command finished, and how a launched process answers a Ctrl-C (:func:`take_ctrl_c`).

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
import signal
import threading
from collections.abc import Callable

__all__ = [
    "CTRL_C_SAID",
    "FINISHED",
    "SAID",
    "command_finished",
    "command_started",
    "ctrl_c_said",
    "env_local_rank",
    "env_local_world",
    "env_rank",
    "env_world",
    "launched",
    "other_rank",
    "stop_line_said",
    "take_ctrl_c",
]

#: The variable siamkit's launcher (``siamkit train --nproc-per-node``) sets for the processes
#: it starts: a file of its own, to which process 0 writes :data:`SAID` once it has said its
#: line of a stop on a signal (its Ctrl-C line, or its --resume line on a Ctrl-C or SIGTERM:
#: :func:`stop_line_said`), or :data:`FINISHED` once its command finished
#: (:func:`command_finished`). The launcher stopped by a signal says the line itself where
#: process 0 did not (it had already ended, or was not started yet), so that a signal never ends
#: the launch without a word, and never with two lines (s63_r1 finding 1); where the command had
#: finished, it says so, not that the run was interrupted (s63_LR1 finding 1).
CTRL_C_SAID = "SIAMKIT_CTRL_C_SAID"

#: What process 0 writes to the file :data:`CTRL_C_SAID` names, one a line.
SAID, FINISHED = "said", "finished"


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


def _tell_launcher(word: str) -> None:
    """Write ``word`` to the file :data:`CTRL_C_SAID` names; nothing outside such a launch. A
    file that cannot be written is let be (the launcher then says a line too, rather than
    none)."""
    path = os.environ.get(CTRL_C_SAID)
    if path:
        with contextlib.suppress(OSError), open(path, "a") as said:
            said.write(f"{word}\n")


def by_the_launcher() -> bool:
    """Whether siamkit's launcher started this process: a process of a launch
    (:func:`launched`), or the one process of ``--nproc-per-node 1``, which torchrun starts with
    ``WORLD_SIZE=1`` and the launcher's file (:data:`CTRL_C_SAID`) named as for more. Its
    answers to a signal are a launched process's: gated on :func:`launched` alone, that one
    process kept Python's own (a traceback, "Aborted!", no word of a finished command) and a
    SIGTERM as it said its Ctrl-C line left the line said by nobody (s64_r1 finding 1)."""
    return launched() or bool(os.environ.get(CTRL_C_SAID))


def ctrl_c_said() -> None:
    """Tell siamkit's launcher, where it started this process, that this process said its line
    of a stop on a signal (:data:`SAID`); nothing outside such a launch."""
    _tell_launcher(SAID)


def stop_line_said(say: Callable[[], None]) -> None:
    """Say this process's line of a stop on a signal (``say``: its Ctrl-C line, or its
    --resume line on a Ctrl-C or SIGTERM) and tell siamkit's launcher so (:func:`ctrl_c_said`).

    The launcher is told first: a second signal between the two, once the line was said, made
    the launcher say its own line too (s63_LR1 finding 2). A SIGINT is then ignored already
    (:func:`take_ctrl_c`); a SIGTERM, which torchrun sends on a second Ctrl-C to the launcher,
    is held until the line is said, then raised: taken between the two, the line was said by
    nobody."""
    held: list[int] = []
    kept = None
    if threading.current_thread() is threading.main_thread() and by_the_launcher():
        kept = signal.getsignal(signal.SIGTERM)
        if kept is not None:  # (one not installed from Python cannot be put back: left)
            signal.signal(signal.SIGTERM, lambda signum, frame: held.append(signum))
    try:
        ctrl_c_said()
        say()
    finally:
        if kept is not None:
            signal.signal(signal.SIGTERM, kept)
            if held:
                signal.raise_signal(signal.SIGTERM)


#: Where :func:`take_ctrl_c` took SIGINT: whether the command has started
#: (:func:`command_started`), and whether a Ctrl-C came before it had.
_ctrl_c = {"started": False, "held": False}


def _on_ctrl_c(signum: int, frame: object) -> None:
    """:func:`take_ctrl_c`'s SIGINT handler: a first Ctrl-C stops the command (KeyboardInterrupt),
    or, before it started, is held until it starts; every later one is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _ctrl_c["started"]:
        _ctrl_c["held"] = True
        return
    raise KeyboardInterrupt


def take_ctrl_c() -> None:
    """How a process of a launch answers a Ctrl-C (SIGINT), from the first line of
    ``python -m siamkit`` (torchrun starts each process so) on: the first one stops the command,
    said in one line (:class:`siamkit.cli.main.LazyGroup`), and later ones are ignored, as
    there is nothing more to stop. A second one (a scheduler's sent to every process, on top of
    the one torchrun passes on) stopped the process as it said that line, with click's
    "Aborted!" and status 1, and the launcher said the line too (s63_LR1 finding 2). One that
    comes before the command started (while siamkit's modules are imported) is held until it
    has, where it printed Python's traceback (s63_m1). Outside a launch, and off the main
    thread, Python's own handler stays."""
    main = threading.current_thread() is threading.main_thread()
    # (Python's own handler, not SIG_IGN: a SIGINT ignored as the launch started stays so)
    if by_the_launcher() and main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_ctrl_c)


def command_started() -> None:
    """The command starts: a Ctrl-C held until now (:func:`take_ctrl_c`) stops it now, as
    KeyboardInterrupt, where the command answers it."""
    _ctrl_c["started"] = True
    if _ctrl_c["held"]:
        _ctrl_c["held"] = False
        raise KeyboardInterrupt


def command_finished() -> None:
    """The command finished: in a process of a launch that took SIGINT (:func:`take_ctrl_c`),
    a Ctrl-C from now on has nothing to stop and is ignored (it printed a traceback or
    "Aborted!" as the process ended); process 0 tells siamkit's launcher (:data:`FINISHED`),
    which, stopped by a signal before torchrun saw the process end, said that the run was
    interrupted and what to run again (s63_LR1 finding 1)."""
    if signal.getsignal(signal.SIGINT) is _on_ctrl_c:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if by_the_launcher() and not other_rank():
        _tell_launcher(FINISHED)
