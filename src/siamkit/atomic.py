"""One way to write a file so that readers see the old file or the new one, never half of it.

The data goes to a temporary file in the same folder, is flushed to disk (``fsync``), and is
renamed over the target (``os.replace``, atomic on POSIX and Windows); on any error the temporary
file is removed and the target is left as it was.

>>> atomic_write(tmp_path / "metrics.json", '{"eer": 0.2}')  # doctest: +SKIP
>>> with atomic_path(tmp_path / "model.onnx") as tmp:  # doctest: +SKIP
...     onnx.save_model(proto, str(tmp))  # a writer that wants a file name
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path``; when the block ends without an error, the file written
    there is flushed to disk and renamed to ``path``. The folder is created if needed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically and durably; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
