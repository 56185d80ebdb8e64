"""The set-ups the walk's refusal tests share (test_walk_reasons, test_omniglot_unread_characters):
a tree of images, the OS's refusals and I/O errors, and what a load said. The tests run as root
here, so chmod does not bite: the OS's refusals are made by monkeypatching os.scandir /
os.listdir / os.lstat / os.stat with a chosen errno."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image


def images(root: Path, *files: str, folders: Iterable[str] = ()) -> Path:
    """``root`` with an 8x8 image at each of ``files`` and an empty folder at each of
    ``folders`` (each relative to ``root``, parents made)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in folders:
        (root / name).mkdir(parents=True, exist_ok=True)
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8)).save(root / name)
    return root


def fail(monkeypatch: pytest.MonkeyPatch, names: Iterable[str], codes: Mapping[Path, int]) -> None:
    """``os.<name>`` (each of ``names``) of each path of ``codes`` fails with its errno: EIO an
    OSError, EACCES or EPERM a PermissionError (``OSError`` makes the subclass the OS would)."""
    failing = {os.fspath(p): code for p, code in codes.items()}
    for name in names:
        real = getattr(os, name)

        def failed(path=".", *args, _real=real, **kwargs):  # type: ignore[no-untyped-def]
            code = failing.get(os.fspath(path))
            if code is not None:
                raise OSError(code, os.strerror(code), os.fspath(path))
            return _real(path, *args, **kwargs)

        monkeypatch.setattr(os, name, failed)


def fail_listing(monkeypatch: pytest.MonkeyPatch, codes: Mapping[Path, int]) -> None:
    """Listing each folder of ``codes`` fails with its errno: os.scandir (os.walk's) and
    os.listdir (Path.iterdir's)."""
    fail(monkeypatch, ("scandir", "listdir"), codes)


def link_beyond_reach(monkeypatch: pytest.MonkeyPatch, link: Path, target: Path, code: int) -> None:
    """``link`` -> ``target``, whose target cannot be reached (another user's 0700 folder): the
    link itself can be lstat'ed, os.stat through it fails with ``code`` (EACCES, EPERM)."""
    os.symlink(target, link)
    real = os.stat

    def stat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path) == os.fspath(link) and kwargs.get("follow_symlinks", True):
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)


@dataclass
class Said:
    """What a load said: each warning's sentence and category (in order), and the error it was
    refused with (``None``: not refused)."""

    notes: list[str]
    categories: list[type[Warning]]
    error: BaseException | None

    @property
    def refusal(self) -> str:
        """The error's sentence."""
        assert self.error is not None, "the load was not refused"
        return str(self.error)


def said(load: Callable[[], object], refused: type[BaseException] | None = None) -> Said:
    """Run ``load`` recording every warning; ``refused``: the error it must raise (the test
    fails where it raises none, or another), else it must raise none."""
    error: BaseException | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if refused is None:
            load()
        else:
            with pytest.raises(refused) as err:
                load()
            error = err.value
    return Said([str(w.message) for w in caught], [w.category for w in caught], error)
