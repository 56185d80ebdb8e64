"""OmniglotDataset's notes (an empty character folder, links to nothing in place of an alphabet
or a character, images of no class, entries that cannot be read) were said once per load; a study
loads its data once per data config, inside ``one_walk_per_folder`` (run_study), where
ImageFolderDataset's notes are said once (s61_r6 finding 1) but Omniglot's were said again per
config. Each is said once inside it now; outside it each load says its own."""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

import pytest
from PIL import Image

from siamkit.data.folders import OmniglotDataset, one_walk_per_folder


def _omniglot(tmp_path: Path) -> Path:
    root = tmp_path / "omniglot"
    top = root / "images_background"
    for k in range(2):
        (top / "Latin" / "a").mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8)).save(top / "Latin" / "a" / f"{k}.png")
    (top / "Latin" / "b").mkdir()  # a character folder without images
    os.symlink(tmp_path / "nowhere", top / "Greek")  # an alphabet that is a link to nothing
    os.symlink(tmp_path / "nowhere" / "c", top / "Latin" / "c")  # a character, the same
    Image.new("L", (8, 8)).save(top / "Latin" / "loose.png")  # of no character
    (top / "Latin" / "a" / "locked.png").write_bytes(b"x")  # a file that cannot be read
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", top / "Runic")  # an alphabet whose target cannot be read
    return root


def _loads(root: Path, times: int, inside: bool) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # each said as often as it is raised
        if inside:
            with one_walk_per_folder():
                for _ in range(times):
                    OmniglotDataset(root, (1, 8, 8))
        else:
            for _ in range(times):
                OmniglotDataset(root, (1, 8, 8))
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def test_omniglot_s_notes_are_said_once_in_a_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _omniglot(tmp_path)
    top = root / "images_background"
    locked = {os.fspath(top / "Latin" / "a" / "locked.png"), os.fspath(top / "Runic")}
    real_lstat, real_stat = os.lstat, os.stat

    def lstat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path) == os.fspath(top / "Latin" / "a" / "locked.png"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_lstat(path, *args, **kwargs)

    def stat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path) in locked and kwargs.get("follow_symlinks", True):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    monkeypatch.setattr(os, "stat", stat)
    once = _loads(root, 3, inside=True)
    assert len(once) == len(set(once)) == 6, once  # each note, once
    kinds = " ".join(once)
    for said in ("holds no images", "Greek", "Latin/c", "loose.png", "locked.png", "Runic"):
        assert said in kinds, said
    assert _loads(root, 2, inside=False) == once + once  # outside a study: each load's own
