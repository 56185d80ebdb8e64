"""One way to write a file so that readers see the old file or the new one, never half of it.

The data goes to a temporary file in the same folder, is flushed to disk (``fsync``), and is
renamed over the target (``os.replace``, atomic on POSIX and Windows); on any error the temporary
file is removed and the target is left as it was.

>>> atomic_write(tmp_path / "metrics.json", '{"eer": 0.2}')  # doctest: +SKIP
>>> with atomic_path(tmp_path / "model.onnx") as tmp:  # doctest: +SKIP
...     onnx.save_model(proto, str(tmp))  # a writer that wants a file name
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def relative_note(path: str | os.PathLike[str]) -> str:
    """For an error about a missing ``path``: where a relative one was looked for
    (``" (relative to the current folder, /home/me)"``), else nothing."""
    p = Path(path)
    return (
        "" if p.is_absolute() or p.exists() else f" (relative to the current folder, {Path.cwd()})"
    )


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (model weights, exports, downloaded pieces)."""
    import hashlib

    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class NotUtf8Error(ValueError):
    """A text file given by the user (a config, a pairs list) that is not UTF-8."""


def read_utf8(path: str | os.PathLike[str]) -> str:
    """The text of ``path`` decoded as UTF-8 (a leading byte-order mark dropped).

    Bytes that are not UTF-8 (a file saved as Latin-1 or Windows-1252) raise
    :class:`NotUtf8Error`, one sentence naming the file, the line, the byte and its offset in the
    file, not Python's ``'utf-8' codec can't decode byte 0xe9 in position 1268``.

    >>> read_utf8("pairs.csv")  # doctest: +SKIP
    """
    raw = Path(path).read_bytes()
    data = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        offset = err.start + len(raw) - len(data)  # in the file, its byte-order mark counted
        raise NotUtf8Error(
            f"{os.fspath(path)} line {line}: byte 0x{data[err.start]:02x} at offset {offset} is "
            "not UTF-8 text; save the file as UTF-8"
        ) from None


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the ``.NAME.tmp-PID...`` files of ``path`` whose writer process is gone (a write
    that was killed); a live writer's file is left alone. Returns what was removed."""
    dest = Path(path)
    removed = []
    for tmp in dest.parent.glob(f".{dest.name}.tmp-*"):
        pid = tmp.name[len(f".{dest.name}.tmp-") :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name one file (the same path, a symlink or a hard link): an
    output that would overwrite an input. False when either is missing and the paths differ."""
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def umask_mode(base: int) -> int:
    """``base`` under the current umask: what a new file (0o666) or folder (0o777) gets."""
    umask = os.umask(0)
    os.umask(umask)
    return base & ~umask


def temp_folder(parent: str | os.PathLike[str], prefix: str) -> Path:
    """A new temporary folder in ``parent`` (created if needed) with the permissions ``mkdir``
    gives a folder (``mkdtemp`` makes 0700), for outputs built there and moved into place."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    tmp.chmod(umask_mode(0o777))
    return tmp


def missing_folders(folder: str | os.PathLike[str]) -> list[Path]:
    """``folder`` and each of its parents that does not exist yet, deepest first: the folders
    that making ``folder`` makes (empty when it exists), as real absolute paths. They are found
    on the resolved path, not on its text: ``new/..`` names the folder it is in, which exists
    (and ``new/../old`` the existing ``old``), and making it makes ``new`` alone, which is not
    ``folder``; a caller that removes what it made must not remove the folder it is in."""
    real = Path(os.path.realpath(folder))
    new = []
    for path in (real, *real.parents):
        if os.path.lexists(path):
            break
        new.append(path)
    return new


def remove_empty_folders(folders: list[Path]) -> Path | None:
    """Remove ``folders`` (deepest first, as :func:`missing_folders` lists them) while each is
    empty, so that a failed write leaves the file system as it was: one never made is skipped,
    and the first one written into (another process's, or not empty) stops it, with its
    parents kept. The outermost of them now gone, or ``None``."""
    gone = None
    for path in folders:
        try:
            path.rmdir()
        except FileNotFoundError:  # never made (a write that moves its folder in last)
            pass
        except OSError:  # written into: not the write's own, or not empty
            break
        gone = path
    return gone


#: A temporary folder nobody has written to for this long belongs to a write that was killed.
STALE_TEMP_FOLDER_S = 600.0


def remove_stale_temp_folders(
    parent: str | os.PathLike[str], prefix: str, age_s: float = STALE_TEMP_FOLDER_S
) -> list[Path]:
    """Delete the folders in ``parent`` named ``prefix...`` that were last written more than
    ``age_s`` seconds ago: the temporary folders of writes killed with SIGKILL, which no
    ``finally`` removed. A running write's folder is recent and left alone. Returns what was
    removed."""
    import glob
    import shutil
    import time

    now, removed = time.time(), []
    for stale in Path(parent).glob(f"{glob.escape(prefix)}*"):
        try:
            if stale.is_dir() and now - stale.stat().st_mtime > age_s:
                shutil.rmtree(stale, ignore_errors=True)
                removed.append(stale)
        except FileNotFoundError:  # another process removed it first
            continue
    return removed


def _mode_for(target: Path) -> int:
    """The permissions a new ``target`` gets: those of the file it replaces, else what the umask
    gives a new file (``mkstemp`` makes 0600)."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        return umask_mode(0o666)


@contextmanager
def atomic_path(
    path: str | os.PathLike[str], suffix: str = "", durable: bool = True
) -> Iterator[Path]:
    """A temporary path beside ``path``; when the block ends without an error, the file written
    there is flushed to disk and renamed to ``path``. The folder is created if needed, and
    temporary files of earlier writes that were killed are removed.

    Args:
        path: the file to write.
        suffix: the temporary file's ending, for writers that pick a format by the file name
            (``".png"`` for ``cv2.imwrite``, ``".mp4"`` for a video writer).
        durable: flush the file to disk before the rename (``fsync``, ~10 ms on a slow disk).
            ``False`` keeps the all-or-nothing rename but not the flush, for many small files
            that can be made again (a generated data set).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    fd, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.tmp-{os.getpid()}-", suffix=suffix
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if durable:
            _fsync_file(tmp)
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
        if durable:
            _record_written(target)
    finally:
        tmp.unlink(missing_ok=True)


#: Each file :func:`atomic_path` wrote durably in this process (its real path): its device,
#: inode and modification time right after the rename (a run's outputs; the many files of a
#: ``durable=False`` write, a generated data set, are not kept here).
_written: dict[str, tuple[int, int, int]] = {}


def _record_written(target: Path) -> None:
    with contextlib.suppress(OSError):
        st = os.stat(target)
        _written[os.path.realpath(target)] = (st.st_dev, st.st_ino, st.st_mtime_ns)


def written_here(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` is still the one this process last wrote there with
    :func:`atomic_path` (or :func:`atomic_write`): same device, inode and modification time. A
    failed new run removes only those of its outputs, never a user's file of the same name
    (a ``report.html`` saved into the new OUT during the first epoch)."""
    was = _written.get(os.path.realpath(path))
    try:
        st = os.stat(path)
    except OSError:
        return False
    return was == (st.st_dev, st.st_ino, st.st_mtime_ns)


def check_writable_file(path: str | os.PathLike[str], what: str) -> None:
    """Refuse, before any work, a file path that :func:`atomic_write` could not write: one
    that is a folder, one below a file (``notes.txt/out.html``), or one in a folder this user
    cannot write (a read-only mount). ``what`` names the path in the message
    (``"--report report.html"``).

    Raises:
        ValueError: one sentence naming the problem and what to do.
    """
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{what} is a folder; give a file name, e.g. {target / target.name}")
    for parent in target.parents:  # the nearest one that exists decides
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(
                    f"{what} cannot be written because {parent} is a file, not a folder; "
                    "give a path in a folder"
                )
            _refuse_unwritable(parent, f"{what} cannot be written")
            return


def check_writable_folder(path: str | os.PathLike[str], what: str) -> None:
    """Refuse, before any work, an output folder that cannot be made: one that is a file, or
    one below a file (``notes.txt/run``), or one in (or being) a folder this user cannot write
    (a read-only mount). ``what`` names the path in the message
    (``"--out runs/x"``).

    Raises:
        ValueError: one sentence naming the problem and what to do.
    """
    target = Path(path)
    for folder in (target, *target.parents):  # the nearest one that exists decides
        if folder.exists():
            if not folder.is_dir():
                raise ValueError(
                    f"{what} cannot be made because {folder} is a file, not a folder; "
                    "give a folder path"
                )
            _refuse_unwritable(
                folder, f"{what} cannot be {'written' if folder == target else 'made'}"
            )
            return


def can_write_in(folder: str | os.PathLike[str]) -> bool:
    """Whether this user may create, rename and remove files in ``folder``: False for a
    read-only mount or a folder without write (or search) permission for this user. The one
    check behind the refusals of unwritable output folders and read-only galleries."""
    return os.access(folder, os.W_OK | os.X_OK)


def _refuse_unwritable(folder: Path, cannot: str) -> None:
    """Refuse a folder this process may not write in (:func:`can_write_in`), found before any
    work rather than as a traceback when the first output is written."""
    if not can_write_in(folder):
        raise ValueError(
            f"{cannot} because the folder {folder} is read-only for this user; "
            "give a path in a folder you can write to"
        )


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically and durably; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
