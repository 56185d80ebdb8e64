"""The ``siamkit`` command: one click group; each command lives in its own module.

A command's module is imported only when that command runs (or ``--help`` lists them all), so
``siamkit face verify`` never pays for importing what ``siamkit demo`` or ``train`` need.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import importlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import click

from siamkit._version import __version__
from siamkit.launch_env import (
    command_finished,
    command_started,
    env_rank,
    env_world,
    launched,
    other_rank,
    stop_line_said,
)

# (module, attribute) of every command. Each module defines a click command or group, named as
# its attribute with "_" written "-" (tests/cli/test_lazy_commands.py checks it).
_COMMANDS: list[tuple[str, str]] = [
    ("demo", "demo"),
    ("configs_cmd", "configs"),
    ("train_cmd", "train"),
    ("evaluate_cmd", "evaluate"),
    ("embed_cmd", "embed"),
    ("calibrate_cmd", "calibrate"),
    ("gallery_cmds", "enroll"),
    ("gallery_cmds", "identify"),
    ("gallery_cmds", "verify"),
    ("gallery_cmds", "gallery"),
    ("serve_cmd", "serve"),
    ("export_cmd", "export"),
    ("tune_cmd", "tune"),
    ("signature_cmds", "signature"),
    ("face_cmds", "face"),
    ("recommend_cmd", "recommend"),
    ("text_cmds", "text"),
    ("track_cmds", "track"),
    ("track_cmds", "evaluate_tracking"),
    ("track_cmds", "export_tracker"),
]


def command_name(attr: str) -> str:
    """The command line name of the command defined as ``attr``."""
    return attr.replace("_", "-")


_WHERE = {command_name(attr): (module, attr) for module, attr in _COMMANDS}


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_WHERE, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _WHERE:
            module, attr = _WHERE[cmd_name]
            self.add_command(getattr(importlib.import_module(f"siamkit.cli.{module}"), attr))
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; Ctrl-C ends it with one line and exit status 130 (128 + SIGINT, what
        a shell reports for a command stopped by Ctrl-C), not click's "Aborted!" and status 1.
        Its outputs are written beside their names and renamed only when complete, so nothing
        half-written is left under an output's name. Under torchrun every process gets the
        Ctrl-C: the first alone says it. SIGTERM (:class:`Terminated`) ends it the same way,
        with status 143; under torchrun it says nothing there, as torchrun also stops the other
        processes with SIGTERM when one fails (its error is the line to read). In a process of
        siamkit's launch, the line is said once whatever comes next, and the launcher told of it
        and of a command that finished (:func:`siamkit.launch_env.stop_line_said`,
        :func:`~siamkit.launch_env.command_finished`)."""
        try:
            command_started()  # (a Ctrl-C that came as the process started stops it here)
            done = super().invoke(ctx)
        except KeyboardInterrupt:
            if not other_rank():  # (the launcher says it where process 0 did not)
                stop_line_said(
                    lambda: click.echo(
                        "interrupted (Ctrl-C) before the command finished; run it again",
                        err=True,
                    )
                )
            raise click.exceptions.Exit(130) from None
        except Terminated:
            if not launched():
                click.echo(
                    "interrupted (SIGTERM) before the command finished; run it again", err=True
                )
            raise click.exceptions.Exit(Terminated.STATUS) from None
        except OSError as err:
            sentence = disk_error(err)
            if sentence is None:
                raise
            raise click.ClickException(sentence) from None
        except RuntimeError as err:
            sentence = _lost_process(err)
            if sentence is None:
                raise
            raise LostProcess(sentence) from None
        command_finished()  # (a launch's Ctrl-C from now on stops nothing)
        return done


class LostProcess(click.ClickException):
    """This process of a torchrun launch stops because another one did (the sentence says so)."""


def _lost_process(err: RuntimeError) -> str | None:
    """Under torchrun, the one sentence for a collective that failed because another process of
    the launch stopped, in place of the backend's traceback (``None``: any other error)."""
    if not launched():
        return None  # one process: nothing to lose, and no torch import for it
    from siamkit.training.ddp import lost_process_sentence

    return lost_process_sentence(err)


@dataclass(frozen=True)
class OutOfRoom:
    """The words for an output refused for want of room: ``full``, what ran out (``the disk is
    full``); ``said``, that with the system's reason where it adds one; ``free``, what to do
    there (``free some space``); ``elsewhere``, where else to write (``on another disk``)."""

    full: str
    said: str
    free: str
    elsewhere: str


def out_of_room(err: OSError) -> OutOfRoom | None:
    """:class:`OutOfRoom` for a full disk (``ENOSPC``) or a used-up disk quota (``EDQUOT``: the
    disk has room, this user's share of it is used up); ``None`` for any other error.

    >>> out_of_room(OSError(errno.EDQUOT, "Disk quota exceeded")).full
    'your disk quota is used up'
    """
    if err.errno == errno.EDQUOT:
        full = "your disk quota is used up"
        elsewhere = "outside the quota (or ask for a larger one)"
        return OutOfRoom(full, full, "free some of your files", elsewhere)
    if err.errno == errno.ENOSPC:
        full = "the disk is full"
        said = f"{full} ({(err.strerror or 'no space left').lower()})"
        return OutOfRoom(full, said, "free some space", "on another disk")
    return None


def disk_error(err: OSError) -> str | None:
    """One sentence for an output the disk refused (full, quota used up, read-only, no
    permission), where Python printed a traceback ending in ``[Errno 28] No space left on
    device``; ``None`` for any other error. The outputs are written atomically, so the refused
    one was not left half-written (an earlier output of the command may be there, complete).

    >>> print(disk_error(OSError(errno.EROFS, "Read-only file system", "/mnt/cd/.x.html.tmp")))
    /mnt/cd is on a read-only file system; give an output path on a disk you can write to
    """
    where = Path(err.filename).parent if isinstance(err.filename, str) else None
    on = f" writing in {where}" if where else ""
    room = out_of_room(err)
    if room is not None:
        advice = f"{room.free} or give an output path {room.elsewhere}, and run it again"
        return f"{room.said}{on}; {advice}"
    if err.errno == errno.EROFS:
        return (
            f"{where or 'an output folder'} is on a read-only file system; give an output path "
            "on a disk you can write to"
        )
    if err.errno in (errno.EACCES, errno.EPERM) and isinstance(err.filename, str):
        name = Path(err.filename)  # atomic_path's temporary (.r.html.tmp-1-x): its folder
        shown = name.parent if name.name.startswith(".") and ".tmp-" in name.name else name
        return (
            f"{shown}: permission denied; give this user access to it (read for an input, "
            "write for an output's folder) or give another path"
        )
    return None


#: The environment variable that names plug-in modules, as ``--plugin`` does (comma-separated).
PLUGINS_ENV = "SIAMKIT_PLUGINS"
#: The environment variable that says ``--trust-plugins`` (``1``, ``true``, ``yes`` or ``on``).
TRUST_PLUGINS_ENV = "SIAMKIT_TRUST_PLUGINS"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="siamkit")
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Import MODULE (a name, or a .py file) first: your code that registers encoders, "
    "losses, miners, distances, ... so a config or a saved model can name them. Repeatable; "
    f"also read from ${PLUGINS_ENV} (comma-separated) and from installed packages' "
    "'siamkit.plugins' entry points.",
)
@click.option(
    "--trust-plugins",
    is_flag=True,
    envvar=TRUST_PLUGINS_ENV,
    help="Import the plug-in modules a saved model records (its siamkit.json's plugins) when "
    "loading it, so a model of your own parts needs no --plugin. Importing runs their code: "
    "only for model folders you trust (without it, loading imports nothing). Also read from "
    f"${TRUST_PLUGINS_ENV}=1.",
)
def cli(plugins: tuple[str, ...] = (), trust_plugins: bool = False) -> None:
    """siamkit: similarity learning with Siamese networks.

    Train twin encoders with contrastive or triplet losses and triplet mining (or with no labels:
    SimCLR, SimSiam, BYOL, VICReg, Barlow Twins, NNCLR), evaluate them on unseen classes
    (verification, N-way K-shot, retrieval), enroll new identities without retraining, verify
    1:1 and identify 1:N, serve over HTTP, and export to ONNX / int8.

    \b
    Applications, each with its own --help:
      siamkit face ...       face verification and recognition (dlib's pretrained encoder)
      siamkit signature ...  offline signature verification, genuine vs forged
      siamkit text ...       text similarity, near-duplicates and plagiarism (MiniLM twins)
      siamkit track ...      object tracking in video (SiamFC)
      siamkit recommend ...  items like the ones a user liked

    Start with `siamkit demo`.
    """
    from siamkit.progress import set_enabled

    set_enabled(True)  # long steps show a bar on a terminal, a few lines in a log
    ctx = click.get_current_context()
    ctx.meta[_PLUGINS_META] = load_plugins(plugins)
    if trust_plugins:  # for this command only (a test's next command does not inherit it)
        from siamkit.registry import trusting_recorded_plugins

        ctx.with_resource(trusting_recorded_plugins())


_PLUGINS_META = "siamkit.plugins"


def load_plugins(plugins: tuple[str, ...] = ()) -> list[str]:
    """Import the plug-ins of ``--plugin``, ``$SIAMKIT_PLUGINS`` and installed entry points; a
    module that cannot be imported is one sentence, before the command runs. Returns the ones
    named (not the entry points, which every run imports) as a run records them."""
    from siamkit.registry import import_plugins, recorded_plugin

    from_env = [m for m in os.environ.get(PLUGINS_ENV, "").replace(",", " ").split() if m]
    try:
        import_plugins([*from_env, *plugins])
    except ImportError as err:
        raise click.ClickException(str(err)) from None
    return list(dict.fromkeys(recorded_plugin(m) for m in [*from_env, *plugins]))


def started_plugins() -> list[str]:
    """The plug-ins this command was started with (``--plugin``, ``$SIAMKIT_PLUGINS``), as
    :func:`load_plugins` returned them; a run writes them in its config (``plugins:``)."""
    ctx = click.get_current_context(silent=True)
    return list(ctx.meta.get(_PLUGINS_META, ())) if ctx is not None else []


class Terminated(SystemExit):
    """The ``SystemExit(143)`` that :func:`exit_on_sigterm`'s handler raises: a command tells a
    SIGTERM from another exit by it, to say what it says on Ctrl-C (a run's --resume hint)."""

    #: 128 + SIGTERM, what a shell reports for a command stopped by SIGTERM.
    STATUS = 143

    def __init__(self) -> None:
        super().__init__(self.STATUS)


def exit_on_sigterm() -> None:
    """Turn SIGTERM (``kill``, a job scheduler, ``timeout``, torchrun stopping its processes)
    into :class:`Terminated` (``SystemExit(143)``).

    Python's default SIGTERM action ends the process at once, so a command stopped that way
    left its half-written temporary files behind (Ctrl-C already cleaned up). As an exception
    it unwinds like Ctrl-C: temporary outputs are removed and earlier outputs stay intact.
    """

    def _exit(signum: int, frame: object) -> None:
        raise Terminated

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit)


def _exit_status(code: object) -> int:
    """The exit status Python gives ``SystemExit(code)``: 0 for ``None``, 1 for a message."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def exit_at_once_on_sigterm(status: int) -> None:
    """Once the command is over, end the process at once on SIGTERM, quietly, with ``status``
    (:func:`main` gives the command's own, or 143 where it was 0: it did not end by itself).

    :func:`exit_on_sigterm`'s exception, raised while Python runs its atexit callbacks or a
    finaliser (torchrun's SIGTERM reaching a process that had said its sentence and was
    ending), was printed as "Exception ignored in atexit callback ... Terminated: 143" and
    dropped: the process went on ending with the status it had, 0 for a finished command."""

    def _exit(signum: int, frame: object) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say
                stream.flush()
        os._exit(status)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit)


#: The status :func:`_exit_at_once_from_now` ends the process with: the last command's.
_status_at_exit = 0

#: Whether the command running said its status answers a SIGTERM (:func:`answered_sigterm`).
_sigterm_answered = False


def answered_sigterm() -> None:
    """Say that this command ends, with its own status, because a SIGTERM stopped it, as it
    was asked to: ``serve`` exits 0 then, so systemd records a clean stop. A second SIGTERM
    while the process ends keeps that status: it ended with 143 in place of the 0, as a
    command that had finished by itself and was not stopped does (:func:`main`)."""
    global _sigterm_answered
    _sigterm_answered = True


def _exit_at_once_from_now() -> None:
    """The atexit callback :func:`exit_at_once_at_exit` registers."""
    exit_at_once_on_sigterm(_status_at_exit)


def _exit_at_once_if_default() -> None:
    """The callback :func:`exit_at_once_at_exit` registers with ``threading._register_atexit``:
    the at-once handler, only where SIGTERM still has Python's default (which would kill the
    process with -15, its status lost). Python runs it when the main thread ends, before it
    waits for non-daemon threads, which may run on for hours: a program that had called
    :func:`main` in-process and installed its own handler (one that stops its worker threads
    gracefully) lost it to the at-once one for all that time, its clean-up, ``finally`` blocks
    and atexit callbacks with it (reviewer s56_FA finding Q1). Its handler is left alone now;
    the atexit callback still installs the at-once one once those threads are joined, as the
    process ends."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        exit_at_once_on_sigterm(_status_at_exit)


def exit_at_once_at_exit(status: int) -> None:
    """End the process at once on SIGTERM, with ``status`` (:func:`exit_at_once_on_sigterm`),
    once the program is over, and not before: from when its main thread ends where SIGTERM
    then still has Python's default, else from when Python runs its atexit callbacks.

    Installed when :func:`main` returned, the handler stayed for whatever the process did next:
    a program that called ``main()`` in-process and went on (a script, a service, pytest) lost
    its ``finally`` blocks, atexit callbacks, buffered writes and
    :func:`~siamkit.atomic.atomic_path` clean-up to a later SIGTERM, and ended with that old
    command's status. An atexit callback runs only when the process is ending; registered last,
    it runs first, before the callbacks (torch's, the index rebuilds') during which a late
    SIGTERM comes. Registered once however often ``main()`` runs, with the last command's
    status; until then the caller's own handler is back (:func:`main`).

    A callback is also registered once with ``threading._register_atexit``, whose callbacks
    Python runs when the main thread ends (``threading._shutdown``), before it waits for
    non-daemon threads, which may run on for hours, and only then runs the atexit callbacks
    as the process ends: a SIGTERM while it waited (torchrun stopping a process late) found the
    caller's handler, Python's default, and killed the process with -15, its command's status
    lost. That one installs the at-once handler only where SIGTERM still has Python's default
    (:func:`_exit_at_once_if_default`): a caller's own handler stays while its threads run on.
    ``python -m siamkit`` installed the at-once handler as main() returned instead, which a
    program running siamkit/__main__.py in-process through runpy (an IDE's runner, a harness
    catching SystemExit) kept for the rest of its life (reviewer s56_R7 finding 3), and which
    left the gap open for the console script. (Private CPython, used by concurrent.futures
    since 3.9; where it is missing the atexit callback alone installs it.)"""
    global _status_at_exit, _threading_hooked
    _status_at_exit = status
    atexit.unregister(_exit_at_once_from_now)
    atexit.register(_exit_at_once_from_now)
    register = getattr(threading, "_register_atexit", None)
    if not _threading_hooked and register is not None:
        with contextlib.suppress(RuntimeError):  # main() run while Python ends: atexit only
            register(_exit_at_once_if_default)
            _threading_hooked = True


#: Whether :func:`_exit_at_once_if_default` is registered with ``threading._register_atexit``.
_threading_hooked = False


#: How long a process other than rank 0 of a torchrun launch holds back its error sentence.
OTHER_RANK_ERROR_DELAY_S = 10.0


def _main_other_rank() -> None:
    """Run the command as a non-first rank: a user's error (a bad config, a refused --resume) is
    met by every rank, and rank 0 says it; torchrun then ends this process. So this rank says
    its error only if it is still running after :data:`OTHER_RANK_ERROR_DELAY_S` (an error of
    its own), and the run ends with one sentence, not one per process. Said that late, the error
    is this process's alone, so the sentence names the process: the others say only that
    process N stopped."""
    try:
        code = cli(prog_name="siamkit", standalone_mode=False)
    except click.ClickException as err:
        if not (isinstance(err, LostProcess) and env_world() == 2):
            # held back, unless the one process lost is rank 0: no other would say it
            time.sleep(OTHER_RANK_ERROR_DELAY_S)
        said = err
        if not isinstance(err, LostProcess):
            said = click.ClickException(
                f"process {env_rank()} of {env_world()} stopped: {err.format_message()}"
            )
        said.show()
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        sys.exit(1)
    # without standalone mode click returns a click.exceptions.Exit's code, else the command's
    # return value, which is not an exit status: 0 then, as rank 0 exits
    sys.exit(code if type(code) is int else 0)


def main() -> None:
    """Run the ``siamkit`` command line (``sys.argv``).

    A program that calls it in-process gets its own SIGTERM handler back when it returns; the
    at-once one (:func:`exit_at_once_on_sigterm`) is installed only once the program is over
    (:func:`exit_at_once_at_exit`): when its main thread ends where SIGTERM still has Python's
    default, else as the process ends (atexit)."""
    # a program that calls main() in-process gets its own SIGTERM handler back when it returns
    # (None: one not installed from Python, which cannot be put back; ours stays, as it unwinds)
    caller_handler = signal.getsignal(signal.SIGTERM)
    global _sigterm_answered
    _sigterm_answered = False
    exit_on_sigterm()
    status = 1  # an exception other than SystemExit: Python prints it and ends with 1
    try:
        if other_rank():
            _main_other_rank()
        else:
            cli(prog_name="siamkit")
        status = 0
    except SystemExit as stop:
        status = _exit_status(stop.code)
        raise
    finally:
        if caller_handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, caller_handler)
        exit_at_once_at_exit(status if _sigterm_answered else status or Terminated.STATUS)


if __name__ == "__main__":
    main()
