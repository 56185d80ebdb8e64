"""A SIGTERM that reaches ``siamkit`` once its command is over (torchrun stopping a process
that had said its sentence and was ending): the process ends quietly, and not with status 0."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

#: ``siamkit ARGS`` through the entry point, with an atexit callback that SIGTERMs the process
#: while Python runs it, as torchrun's SIGTERM does when it comes late.
LATE_SIGTERM = textwrap.dedent(
    """
    import atexit, os, signal, sys, time
    from siamkit.cli.main import main

    def late():
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
    res = subprocess.run(
        [sys.executable, "-c", LATE_SIGTERM, *args], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == status, res.stderr
    assert "Terminated" not in res.stderr and "Exception ignored" not in res.stderr
    assert "still running" not in res.stderr
    if status == 143:
        assert res.stdout.startswith("siamkit, version")  # what it said before is kept
