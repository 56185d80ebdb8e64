"""The orders of events the study lock (``OUT/tune.lock``, :class:`StudyLock`) must survive,
forced in one process (two ``flock`` opens of one file exclude each other there too), so that
each is a fast test: the lock of a new --out was tested only by a slow two-process test that
``make test`` never runs, and the inode re-check in ``take`` by none (reviewer s53_R7)."""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from _tiny_study import tiny_base

from siamkit.tuning import run_study, search
from siamkit.tuning.study import STUDY_FILE, STUDY_LOCK, StudyInUse, StudyLock, StudyNotLocked

SPACE = {"optim.lr": {"float": [1e-3, 1e-2]}}


def test_a_taker_that_opened_the_file_a_study_then_released_locks_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B opens A's tune.lock; before B's flock, A releases (removes the file, drops the lock)
    and C creates a new tune.lock and locks it. B's flock on A's old file then succeeds: without
    the re-check that the path is still B's file, B and C both ran a study in the folder."""
    out = tmp_path / "tune"
    out.mkdir()
    first, third = StudyLock(out), StudyLock(out)
    first.take()
    real = fcntl.flock
    calls: list[int] = []

    def flock(fd: int, op: int) -> Any:
        calls.append(fd)
        if len(calls) == 1:  # B holds A's file open, not yet locked: A ends, C begins
            first.release()
            third.take()
            assert third._fd is not None
            assert os.stat(out / STUDY_LOCK).st_ino == os.fstat(third._fd).st_ino
            assert os.fstat(fd).st_ino != os.fstat(third._fd).st_ino  # B's is A's old file
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    second = StudyLock(out)
    try:
        with pytest.raises(StudyInUse, match=r"is in use: another siamkit tune is running"):
            second.take()
        assert len(calls) >= 2  # B's flock on A's old file, then on C's
        assert second._fd is None
    finally:
        monkeypatch.setattr(fcntl, "flock", real)
        second.release()
        third.release()


def test_a_new_folder_made_and_locked_during_the_data_load_is_refused_before_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A --out not there yet is locked once it is made, after the data load: a study that made
    and locked that folder meanwhile (another ``siamkit tune``, started a moment later, whose
    data loaded sooner) keeps it, and this one is refused before its study is opened."""
    out = tmp_path / "tune"
    other = StudyLock(out)
    load = search.load_run_data

    def loaded_while_another_began(*args: Any, **kwargs: Any) -> Any:
        out.mkdir(exist_ok=True)
        other.take()  # the other study, running in the new folder
        return load(*args, **kwargs)

    monkeypatch.setattr(search, "load_run_data", loaded_while_another_began)
    try:
        with pytest.raises(StudyInUse, match=r"is in use: another siamkit tune is running"):
            run_study(tiny_base(), SPACE, out, n_trials=1, progress=False)
        assert other._fd is not None
        assert not (out / STUDY_FILE).exists()
        assert (out / STUDY_LOCK).exists()  # the other's file, left to it
    finally:
        other.release()


def test_a_study_ending_leaves_the_lock_file_of_another_that_replaced_it(tmp_path: Path) -> None:
    """Someone removes tune.lock while study A runs; study B then takes a new file and runs.
    A's release removed B's file, so a third study C made another and ran beside B: A removes
    only its own file now, and C is refused while B runs."""
    out = tmp_path / "tune"
    out.mkdir()
    a, b, c = StudyLock(out), StudyLock(out), StudyLock(out)
    a.take()
    os.unlink(out / STUDY_LOCK)  # by hand, or a cleaner of old files
    b.take()
    try:
        a.release()
        assert b._fd is not None
        assert os.stat(out / STUDY_LOCK).st_ino == os.fstat(b._fd).st_ino  # B's, still there
        with pytest.raises(StudyInUse, match=r"is in use: another siamkit tune is running"):
            c.take()
    finally:
        c.release()
        b.release()
    assert not (out / STUDY_LOCK).exists()  # B removed its own
    with StudyLock(out) as d:
        d.take()
        assert d._fd is not None


def test_a_study_whose_lock_file_someone_removed_ends_cleanly(tmp_path: Path) -> None:
    """Its file gone (and none in its place), release still drops the lock without an error."""
    out = tmp_path / "tune"
    out.mkdir()
    a = StudyLock(out)
    a.take()
    os.unlink(out / STUDY_LOCK)
    a.release()
    assert a._fd is None and list(out.iterdir()) == []


def test_a_folder_in_place_of_the_lock_file_is_one_sentence(tmp_path: Path) -> None:
    """A folder named tune.lock gave a bare ``IsADirectoryError: [Errno 21] Is a directory``."""
    out = tmp_path / "tune"
    (out / STUDY_LOCK).mkdir(parents=True)
    with pytest.raises(ValueError) as err:
        StudyLock(out).take()
    assert str(err.value) == (
        f"--out {out} cannot be locked for the study: {out / STUDY_LOCK} is a folder, where a "
        "study keeps its lock file; remove it, or give another --out"
    )
    assert (out / STUDY_LOCK).is_dir()  # not removed for the user


def _refuse_opening(lock: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``os.open`` of ``lock`` raises this user's PermissionError (EACCES), as for a file or
    folder of another user (forced: root may open any file); other paths open as before."""
    real = os.open

    def refused(path: Any, *args: Any, **kwargs: Any) -> int:
        if Path(path) == lock:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)


def test_a_lock_file_this_user_may_not_open_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tune.lock another user left (read-only to this one; forced here, as root may open any
    file) gave a bare ``PermissionError``."""
    out = tmp_path / "tune"
    out.mkdir()
    (out / STUDY_LOCK).touch()
    _refuse_opening(out / STUDY_LOCK, monkeypatch)
    with pytest.raises(ValueError) as err:
        StudyLock(out).take()
    assert str(err.value) == (
        f"--out {out} cannot be locked for the study: {out / STUDY_LOCK} cannot be opened "
        "(Permission denied); remove it if no siamkit tune runs in the folder, or give another "
        "--out"
    )


def test_a_folder_this_user_may_not_write_in_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No tune.lock there, and none may be made (a folder read-only to this user; forced)."""
    out = tmp_path / "tune"
    out.mkdir()
    _refuse_opening(out / STUDY_LOCK, monkeypatch)
    with pytest.raises(ValueError) as err:
        StudyLock(out).take()
    assert str(err.value) == (
        f"--out {out} cannot be locked for the study: {out / STUDY_LOCK} cannot be made "
        "(Permission denied); let this user write in the folder, or give another --out"
    )


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.EOPNOTSUPP])
def test_a_folder_whose_file_system_refuses_flock_runs_the_study_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """A file system without flock (an NFS mount without its lock daemon: ENOLCK; some FUSE
    mounts: EOPNOTSUPP) ran the study unlocked without a word, while the README and --help
    said one study runs in a folder at a time. It still runs, and says once, naming the folder,
    that it is not locked: ``take`` is called twice for a folder that is there."""
    out = tmp_path / "tune"
    out.mkdir()

    def refused(fd: int, op: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", refused)
    lines: list[str] = []
    result = run_study(tiny_base(), SPACE, out, n_trials=1, progress=False, log=lines.append)
    assert (out / STUDY_FILE).exists() and result.complete + result.pruned == 1  # it ran
    said = [line for line in lines if "cannot be locked" in line]
    assert said == [
        f"warning: --out {out} cannot be locked for the study (its file system refuses flock: "
        f"{os.strerror(code)}), so a second siamkit tune started in it would not be refused and "
        "would fail this study's running trials; run one study in the folder at a time"
    ]


def test_without_a_log_the_unlocked_folder_is_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From Python without ``log`` (and on Windows, where no lock is tried), a
    :class:`StudyNotLocked` warning naming the folder, once however often ``take`` is called."""
    out = tmp_path / "tune"
    out.mkdir()
    monkeypatch.setattr(sys, "platform", "win32")
    lock = StudyLock(out)
    with pytest.warns(StudyNotLocked) as caught:
        lock.take()
        lock.take()
    assert [str(w.message) for w in caught] == [
        f"--out {out} cannot be locked for the study (Windows has no flock), so a second siamkit "
        "tune started in it would not be refused and would fail this study's running trials; "
        "run one study in the folder at a time"
    ]
    assert lock._fd is None and not (out / STUDY_LOCK).exists()
    lock.release()


def test_a_folder_that_cannot_be_locked_is_left_without_the_lock_file_the_study_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where flock is refused, the tune.lock made for the attempt stayed behind (no release
    removes it, as none was held): after every study, a refused one in an empty folder too, so
    another user's later study in the folder was refused, as a file it may not open (0644,
    this user's). It is removed at once; one that was there before (another study's, which a
    host where flock works may hold) is left."""
    out = tmp_path / "tune"
    out.mkdir()

    def refused(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", refused)
    with pytest.warns(StudyNotLocked), pytest.raises(ValueError, match=r"data\.val_classes"):
        run_study(  # taken, then refused
            tiny_base("data.val_classes=null"), SPACE, out, n_trials=1, progress=False
        )
    assert list(out.iterdir()) == []
    lines: list[str] = []
    run_study(tiny_base(), SPACE, out, n_trials=1, progress=False, log=lines.append)
    assert sum("cannot be locked" in line for line in lines) == 1
    assert (out / STUDY_FILE).exists() and not (out / STUDY_LOCK).exists()
    (out / STUDY_LOCK).write_text("another's")
    with pytest.warns(StudyNotLocked), StudyLock(out) as lock:
        lock.take()
    assert (out / STUDY_LOCK).read_text() == "another's"
