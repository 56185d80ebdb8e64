"""What the tests of a first enroll stopped before it stored anything share (``siamkit
enroll``, ``face enroll``, ``text enroll``): the three ways it stops, with the exit status each
gives, a stand-in that stops it, and the rows a gallery file holds."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from siamkit.cli.main import Terminated

STOPS = [(KeyboardInterrupt, 130), (Terminated, 143), (ValueError, 1)]
"""Ctrl-C, SIGTERM and an error, with the status the command exits with for each."""


def stopping(stop: type[BaseException], reason: str = "the disk went away") -> Callable[..., Any]:
    """A stand-in for any function, that raises ``stop`` (a ValueError saying ``reason``)."""

    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise stop(reason) if stop is ValueError else stop()

    return stopped


def items_of(db: Path) -> list[tuple[int, str, bytes]]:
    """The id, label and embedding of every item in the gallery file ``db``, by id."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT id, label, embedding FROM items ORDER BY id").fetchall()
