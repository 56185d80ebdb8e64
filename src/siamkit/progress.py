"""Progress of long steps: a tqdm bar on a terminal, a few plain lines in a log file.

Library loops that can take more than a couple of seconds (pair distances, few-shot episodes,
retrieval, embedding many images, int8 calibration, index builds) report through :func:`track`
or :func:`progress`; a long step with no count of its own (one library call: an ONNX trace, a
quantisation) says that it starts with :func:`step`. Nothing is shown until a program turns progress on with
:func:`set_enabled` (the ``siamkit`` command does); then a step that lasts longer than
``delay`` seconds shows a tqdm bar when stderr is a terminal, and otherwise writes one plain line
per tenth of the work (or every ``interval`` seconds), so a log gets a handful of lines instead
of one per carriage-return update.

Example:
    >>> from siamkit.progress import track
    >>> total = sum(x for x in track(range(10), desc="adding"))
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

_enabled = False


def human_bytes(n: int) -> str:
    """Bytes in words, as a progress line or an error names a size: ``8388608`` -> ``'8 MiB'``,
    ``4000`` -> ``'3.9 KiB'``, ``500`` -> ``'500 bytes'``, ``1`` -> ``'1 byte'``.

    >>> human_bytes(8 << 20), human_bytes(4000), human_bytes(500), human_bytes(3 << 29)
    ('8 MiB', '3.9 KiB', '500 bytes', '1.5 GiB')
    """
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return "1 byte" if n == 1 else f"{n} bytes"  # layer 0: no clauses.counted


def set_enabled(on: bool = True) -> None:
    """Turn progress reporting on or off for this process (off by default in the library)."""
    global _enabled
    _enabled = bool(on)


def is_enabled() -> bool:
    """Whether :func:`track` / :func:`progress` report anything."""
    return _enabled


@contextlib.contextmanager
def progress_off(when: bool = True) -> Iterator[None]:
    """No progress reported inside (when ``when``), and progress as it was after, however the
    block ends: a step counted by an outer count (the images of ``siamkit embed``) is not also
    counted as its own (each chunk's batches).

    >>> with progress_off():
    ...     is_enabled()
    False
    """
    was = _enabled
    if when:
        set_enabled(False)
    try:
        yield
    finally:
        set_enabled(was)


class Progress:
    """Count work done towards ``total`` and report it (see the module docstring).

    Args:
        total: units of work, or ``None`` when unknown (then a line every ``interval`` s).
        desc: what is being done, e.g. ``"verification pairs"``.
        unit: the unit's name, e.g. ``"images"``.
        stream: where to write (default ``sys.stderr``).
        tty: force the terminal (tqdm) or the log (plain lines) behaviour; default: ask ``stream``.
        delay: seconds before anything is shown, so quick steps stay silent.
        interval: at most this many seconds between plain lines.
        clock: seconds, monotonic (injectable for tests).
        parts: plain lines per run of the work (10: one per tenth).
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "it",
        stream: TextIO | None = None,
        tty: bool | None = None,
        delay: float = 2.0,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        parts: int = 10,
    ) -> None:
        self.total, self.desc, self.unit, self.parts = total, desc, unit, max(1, parts)
        self.suffix = ""
        self.stream = stream if stream is not None else sys.stderr
        self.delay, self.interval, self.clock = delay, interval, clock
        self.done = 0
        self.lines = 0
        self._start = clock()
        self._last_line = self._start
        self._next_tenth = 1
        self._last_done = 0
        self._bar: Any = None
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        if tty:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total, desc=desc, unit=unit, file=self.stream, delay=delay, leave=False
            )

    def update(self, n: int = 1) -> None:
        """Record ``n`` more units of work."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self.clock()
        elapsed = now - self._start
        if elapsed < self.delay:
            self._catch_up()
            return
        crossed = self.total and self.done * self.parts >= self._next_tenth * self.total
        if crossed or now - self._last_line >= self.interval:
            self._catch_up()
            self._line(now)

    def set_postfix(self, **values: Any) -> None:
        """What to show after the count (tqdm's ``set_postfix``), e.g. ``best="0.8123"``."""
        self.suffix = ", ".join(f"{k} {v}" for k, v in values.items())
        if self._bar is not None:
            self._bar.set_postfix(**values)

    def write(self, line: str, out: Callable[[str], None] | None = None) -> None:
        """Write ``line`` beside the progress without breaking it: with ``out`` (e.g.
        ``click.echo``, default ``print`` to stdout), the bar on a terminal cleared before it and
        drawn again after (tqdm's ``write``); with no bar, ``out`` alone.

        >>> Progress(2, "trials", tty=False).write("trial 0: complete")
        trial 0: complete
        """
        out = out if out is not None else print
        if self._bar is None:
            out(line)
            return
        with self._bar.external_write_mode():  # stdout and the stderr bar share a terminal
            out(line)

    def _catch_up(self) -> None:
        if self.total:
            self._next_tenth = max(self._next_tenth, self.done * self.parts // self.total + 1)

    def _line(self, now: float) -> None:
        if self.total:
            pct = 100 * self.done // self.total
            what = f"{pct}% ({self.done:,}/{self.total:,} {self.unit})"
        else:
            what = f"{self.done:,} {self.unit}"
        suffix = f", {self.suffix}" if self.suffix else ""
        self.stream.write(f"{self.desc}: {what}, {now - self._start:.0f} s{suffix}\n")
        self.stream.flush()
        self.lines += 1
        self._last_line, self._last_done = now, self.done

    def close(self) -> None:
        """Finish: close the bar, or write a last line if any line was written."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.lines and self._last_done != self.done:
            self._line(self.clock())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Silent:
    """The no-op stand-in for :class:`Progress` while progress is off."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def step(what: str, stream: TextIO | None = None) -> None:
    """Write ``"{what} ..."`` as one line (default stderr) while progress is on: a long step
    with no count to report (one call into another library) says what it is doing.

    >>> step("tracing the text encoder to ONNX")
    """
    if not _enabled:
        return
    out = stream if stream is not None else sys.stderr
    out.write(f"{what} ...\n")
    out.flush()


def progress(total: int | None, desc: str, unit: str = "it", **kwargs: Any) -> Progress | _Silent:
    """A :class:`Progress` (a silent stand-in while progress is off); use it as a context manager.

    >>> with progress(3, "embedding", unit="images") as bar:
    ...     for _ in range(3):
    ...         bar.update(1)
    """
    if not _enabled:
        return _Silent()
    return Progress(total, desc, unit, **kwargs)


def track(
    items: Iterable[T],
    desc: str,
    total: int | None = None,
    unit: str = "it",
    weight: Callable[[T], int] | None = None,
    **kwargs: Any,
) -> Iterator[T]:
    """Yield ``items`` and report progress after each; ``weight(item)`` units each (default 1).

    ``total`` defaults to ``len(items)`` when it has one.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(total, desc, unit, **kwargs) as bar:
        for item in items:
            yield item
            bar.update(1 if weight is None else weight(item))


class _Bar:
    """Iterate ``items`` with plain progress lines (or none); tqdm-like ``set_postfix``."""

    def __init__(self, items: Iterable[Any], progress: Progress | None) -> None:
        self._items, self._progress = items, progress

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self._items:
                yield item
                if self._progress is not None:
                    self._progress.update(1)
        finally:
            if self._progress is not None:
                self._progress.close()

    def set_postfix(self, **values: Any) -> None:
        if self._progress is not None:
            self._progress.set_postfix(**values)


def progress_bar(
    items: Iterable[T],
    desc: str,
    total: int | None = None,
    unit: str = "it",
    enabled: bool = True,
    stream: TextIO | None = None,
    parts: int = 4,
) -> Any:
    """A loop's progress whatever :func:`set_enabled` says (the caller decides, e.g. training's
    ``progress`` option): a tqdm bar on a terminal, else a plain line per ``1/parts`` of the work.
    The result iterates ``items`` and has tqdm's ``set_postfix``.
    """
    out = stream if stream is not None else sys.stderr
    isatty = getattr(out, "isatty", None)
    if enabled and callable(isatty) and isatty():
        from tqdm.auto import tqdm

        return tqdm(items, total=total, desc=desc, unit=unit, file=out, leave=False,
                    dynamic_ncols=True, mininterval=1.0)  # fmt: skip
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    return _Bar(items, Progress(total, desc, unit, out, False, parts=parts) if enabled else None)
