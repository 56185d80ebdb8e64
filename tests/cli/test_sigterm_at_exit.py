"""A SIGTERM that reaches ``siamkit`` once its command is over (torchrun stopping a process
that had said its sentence and was ending): the process ends quietly, and not with status 0.
A program that called ``main()`` in-process and went on gets its own SIGTERM handler back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _gloo import run_in_session

ROOT = Path(__file__).resolve().parents[2]

#: ``siamkit ARGS`` through the entry point, with an atexit callback that SIGTERMs the process
#: while Python runs it, as torchrun's SIGTERM does when it comes late.
LATE_SIGTERM = textwrap.dedent(
    """
    import atexit, os, signal, sys, time
    from siamkit.cli.main import main

    def late():
        sys.stdout.write("said at exit, not yet flushed\\n")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        print("still running after SIGTERM", file=sys.stderr)

    atexit.register(late)
    sys.argv = ["siamkit", *sys.argv[1:]]
    main()
    """
)


@pytest.mark.parametrize(
    ("args", "status"),
    [(["--version"], 143), (["configs", "--format", "nope"], 2)],
    ids=["finished", "refused"],
)
def test_a_sigterm_after_the_command_ends_it_quietly_and_not_with_0(
    args: list[str], status: int
) -> None:
    """It was raised as Terminated in the atexit callback, where Python prints "Exception
    ignored in atexit callback ... siamkit.cli.main.Terminated: 143" and drops it: the process
    went on to end with the command's status, 0 for one that had finished. Now it ends at once,
    with the command's own status, or 143 (SIGTERM's) in place of 0."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered
    res = subprocess.run(
        [sys.executable, "-c", LATE_SIGTERM, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert res.returncode == status, res.stderr
    assert "Terminated" not in res.stderr and "Exception ignored" not in res.stderr
    assert "still running" not in res.stderr
    if status == 143:
        assert res.stdout.startswith("siamkit, version")  # what it said before is kept
    # what was said at exit and not yet flushed is flushed before the process ends
    assert res.stdout.endswith("said at exit, not yet flushed\n"), res.stdout


#: A program that runs ``siamkit ARGS`` in-process, catches its SystemExit and goes on: it
#: writes a result through atomic_path, and is SIGTERMed (systemctl stop, docker stop) meanwhile.
#: With ``graceful`` as argv[2] it installs its own SIGTERM handler first, which unwinds.
GOES_ON = textwrap.dedent(
    """
    import atexit, os, signal, sys, time
    from siamkit.atomic import atomic_path
    from siamkit.cli.main import main

    def graceful(signum, frame):
        print("graceful handler ran", file=sys.stderr)
        sys.exit(143)

    out, mode = sys.argv[1], sys.argv[2]
    if mode == "graceful":
        signal.signal(signal.SIGTERM, graceful)
    before = signal.getsignal(signal.SIGTERM)
    atexit.register(lambda: print("atexit ran", file=sys.stderr))
    sys.argv = ["siamkit", *sys.argv[3:]]
    try:
        main()
    except SystemExit:
        pass
    print("handler back:", signal.getsignal(signal.SIGTERM) is before, file=sys.stderr)
    try:
        with atomic_path(os.path.join(out, "result.bin")) as tmp:
            tmp.write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            print("still running after SIGTERM", file=sys.stderr)
    finally:
        print("finally ran", file=sys.stderr)
    """
)

ARGS = pytest.mark.parametrize(
    "args", [["--version"], ["configs", "--format", "nope"]], ids=["finished", "refused"]
)


@ARGS
def test_a_program_that_called_main_gets_its_sigterm_handler_back(
    tmp_path: Path, args: list[str]
) -> None:
    """main() left its at-once handler (flush, os._exit) in place when it returned, for
    whatever the program did next: a later SIGTERM skipped the program's ``finally`` blocks and
    atexit callbacks, left atomic_path's temporary file behind, and ended with the old
    command's status (2 after a refused one). The program's own handler is back now."""
    res = subprocess.run(
        [sys.executable, "-c", GOES_ON, str(tmp_path), "graceful", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 143, res.stderr
    assert "handler back: True" in res.stderr
    assert "graceful handler ran" in res.stderr and "still running" not in res.stderr
    assert "finally ran" in res.stderr and "atexit ran" in res.stderr
    assert list(tmp_path.iterdir()) == []  # the half-written result rolled back


@ARGS
def test_a_program_that_left_sigterm_alone_gets_the_default_back(
    tmp_path: Path, args: list[str]
) -> None:
    """Python's default: the process ends at once, killed by SIGTERM, as it would had it never
    called siamkit (not exiting with siamkit's status, 2 after a refused command)."""
    res = subprocess.run(
        [sys.executable, "-c", GOES_ON, str(tmp_path), "default", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == -signal.SIGTERM, res.stderr
    assert "handler back: True" in res.stderr and "still running" not in res.stderr


def test_only_a_command_that_answered_sigterm_keeps_its_0_at_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command that finished with 0 by itself ends with 143 on a late SIGTERM; serve, whose 0
    answers the SIGTERM that stopped it (answered_sigterm), ended with 143 too on a second one
    (tests/service/test_serve_operations.py runs serve so). The next main() starts afresh."""
    import siamkit.cli.main as entry

    at_exit: list[int] = []
    monkeypatch.setattr(entry, "exit_at_once_at_exit", at_exit.append)
    answers = iter([True, False])
    monkeypatch.setattr(
        entry, "cli", lambda **kw: entry.answered_sigterm() if next(answers) else None
    )
    entry.main()
    entry.main()
    assert at_exit == [0, 143]


#: A plug-in whose non-daemon thread SIGTERMs the process once the main thread is done: Python
#: then waits for the thread before its atexit callbacks, the instant between ``main()``
#: returning and siamkit's atexit callback installing the at-once handler.
IN_THE_GAP = textwrap.dedent(
    """
    import os, signal, threading, time

    def in_the_gap():
        main = threading.main_thread()
        while main.is_alive():  # False once Python's shutdown waits for this thread
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(20)

    threading.Thread(target=in_the_gap, daemon=False).start()
    """
)


#: How ``siamkit`` is started: ``python -m siamkit`` (what torchrun starts), and the console
#: script pip writes for pyproject's ``siamkit.cli.main:main``.
FORMS = {
    "module": ["-m", "siamkit"],
    "console-script": [
        "-c",
        "import sys; from siamkit.cli.main import main; sys.argv[0] = 'siamkit'; sys.exit(main())",
    ],
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("args", "status"),
    [(["configs", "--help"], 143), (["configs", "--format", "nope"], 2)],
    ids=["finished", "refused"],
)
def test_a_sigterm_between_main_returning_and_atexit_keeps_the_status(
    tmp_path: Path, args: list[str], status: int, form: str
) -> None:
    """main() gives the caller's SIGTERM default back when the command ends and installed the
    at-once handler only from an atexit callback: a SIGTERM in between (Python waiting for
    non-daemon threads) killed the process, -15, the command's status lost. da4c142b closed
    that for `python -m siamkit` alone (the console script kept it); the handler is now
    installed from threading's own exit callbacks, which run before that wait."""
    plugin = tmp_path / "in_the_gap.py"
    plugin.write_text(IN_THE_GAP)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    res = run_in_session(
        [sys.executable, *FORMS[form], "--plugin", str(plugin), *args], env, timeout=60
    )
    assert res.returncode == status, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr


#: A program (an IDE's runner, a harness) that runs ``siamkit configs --format nope`` through
#: ``runpy`` as ``python -m siamkit`` would, catches its SystemExit and goes on with its own
#: SIGTERM handler, ``finally`` block and atexit callback, then is SIGTERMed.
RUNPY_CALLER = textwrap.dedent(
    """
    import atexit, os, runpy, signal, sys, time

    def mine(signum, frame):
        print("caller handler ran", file=sys.stderr, flush=True)
        sys.exit(5)

    signal.signal(signal.SIGTERM, mine)
    atexit.register(lambda: print("caller atexit ran", file=sys.stderr, flush=True))
    sys.argv = ["siamkit", "configs", "--format", "nope"]
    try:
        runpy.run_module("siamkit", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        print("caught", stop.code, file=sys.stderr, flush=True)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        print("still running after SIGTERM", file=sys.stderr)
    finally:
        print("caller finally ran", file=sys.stderr, flush=True)
    """
)


def test_a_program_running_siamkits_main_module_through_runpy_keeps_its_sigterm_handler() -> None:
    """siamkit/__main__.py installed the at-once handler (os._exit with siamkit's status) as
    the command ended, for a process that would end with it: a program that ran it through
    runpy and went on lost its own handler, its finally blocks and atexit callbacks to a later
    SIGTERM, and ended with the refused command's 2 (reviewer s56_R7 finding 3)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    res = run_in_session([sys.executable, "-c", RUNPY_CALLER], env, timeout=60)
    assert "caught 2" in res.stderr, res.stderr
    assert res.returncode == 5, (res.returncode, res.stderr)
    for said in ("caller handler ran", "caller finally ran", "caller atexit ran"):
        assert said in res.stderr, res.stderr
    assert "still running" not in res.stderr


#: A program that runs ``siamkit --help`` in-process with its own SIGTERM handler, which asks
#: its non-daemon worker thread to stop and clean up; its main thread then ends while the worker
#: runs on, and a SIGTERM comes a second later.
WORKER_RUNS_ON = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from siamkit.cli.main import main

    stop = threading.Event()

    def mine(signum, frame):
        print("caller handler: stopping worker", flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, mine)
    sys.argv = ["siamkit", "--help"]
    try:
        main()
    except SystemExit as done:
        print("siamkit exited", done.code, flush=True)

    def work():
        while not stop.wait(0.05):
            pass
        print("worker: cleaned up", flush=True)

    def kill_later():
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=work).start()
    threading.Thread(target=kill_later, daemon=True).start()
    """
)


def test_a_program_whose_worker_threads_run_on_after_main_keeps_its_sigterm_handler() -> None:
    """840a141b installed the at-once handler from threading's exit callbacks, which Python runs
    when the main thread ends, before it waits for non-daemon threads: a program that had called
    main() and let its main thread end while its workers ran on lost its own handler for all
    that time, and a SIGTERM ended it with 143, its workers' clean-up skipped (reviewer s56_FA
    finding Q1). That callback now installs the at-once handler only over Python's default."""
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT / "src")}
    res = run_in_session([sys.executable, "-c", WORKER_RUNS_ON], env, timeout=60)
    assert "siamkit exited 0" in res.stdout, res.stdout
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    assert "caller handler: stopping worker" in res.stdout
    assert res.stdout.endswith("worker: cleaned up\n"), res.stdout
