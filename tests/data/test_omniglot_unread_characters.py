"""Omniglot character folders that cannot be listed are told so, with the OS's reason, not
called folders that "hold no images" (s62_FA finding 1). The tests run as root here, so the
OS's refusals are made by monkeypatching os.scandir / os.listdir with a chosen errno."""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

import pytest
from PIL import Image

from siamkit.data.folders import EmptyFoldersWarning, OmniglotDataset, UnreadableFolderError


def _omniglot(tmp_path: Path) -> Path:
    """``omni/images_background/alpha/{c1,c2}``, two images each."""
    root = tmp_path / "omni"
    for ch in ("c1", "c2"):
        d = root / "images_background" / "alpha" / ch
        d.mkdir(parents=True)
        for i in range(2):
            Image.new("L", (8, 8)).save(d / f"{i}.png")
    return root


def _fail(monkeypatch: pytest.MonkeyPatch, paths: set[str], code: int) -> None:
    """Listing each of ``paths`` (os.scandir, os.listdir) fails with ``code``."""
    for name in ("scandir", "listdir"):
        real = getattr(os, name)

        def failing(path=".", *args, _real=real, **kwargs):  # type: ignore[no-untyped-def]
            if os.fspath(path) in paths:
                raise OSError(code, os.strerror(code), os.fspath(path))
            return _real(path, *args, **kwargs)

        monkeypatch.setattr(os, name, failing)


def _alpha(root: Path) -> Path:
    return root / "images_background" / "alpha"


def test_a_character_folder_that_cannot_be_listed_is_not_called_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c2 cannot be listed: it was named both as a folder that "cannot be read" and as one that
    "holds no images ... add its images, or remove the folder"."""
    root = _omniglot(tmp_path)
    c2 = _alpha(root) / "c2"
    _fail(monkeypatch, {os.fspath(c2)}, errno.EACCES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = OmniglotDataset(root)
    assert ds.classes == ["alpha/c1"]
    assert ds.empty_folders == []
    # LeftOutFilesWarning is an EmptyFoldersWarning: the empty-folder note is one of its own
    empty = [str(w.message) for w in caught if w.category is EmptyFoldersWarning]
    assert empty == [], empty
    assert not any("holds no images" in str(w.message) for w in caught)
    notes = [str(w.message) for w in caught]
    assert any(
        f"left out the folder {c2}: it cannot be read (permission denied)" in n for n in notes
    )


def test_character_folders_that_cannot_be_listed_are_named_by_the_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither character can be listed: the refusal said only "No Omniglot images under ...;
    expected images_background/<alphabet>/<character>/*.png.", naming neither."""
    root = _omniglot(tmp_path)
    c1, c2 = _alpha(root) / "c1", _alpha(root) / "c2"
    _fail(monkeypatch, {os.fspath(c1), os.fspath(c2)}, errno.EPERM)
    with warnings.catch_warnings(), pytest.raises(ValueError) as err:
        warnings.simplefilter("ignore")
        OmniglotDataset(root)
    assert str(err.value).endswith(
        f": {c1}, {c2} cannot be read (operation not permitted): give read access to them"
    ), str(err.value)


def test_a_character_folder_that_fails_with_an_i_o_error_is_named_and_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c2 cannot be listed for a reason other than permission (EIO): _list_images caught only
    PermissionError, so the load ended with a bare "OSError: [Errno 5] Input/output error"
    (s62_FA finding 3), while the class walk names such a folder and leaves it out."""
    root = _omniglot(tmp_path)
    c2 = _alpha(root) / "c2"
    _fail(monkeypatch, {os.fspath(c2)}, errno.EIO)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = OmniglotDataset(root)
    assert ds.classes == ["alpha/c1"]
    assert ds.empty_folders == []
    notes = [str(w.message) for w in caught]
    assert any(
        f"left out the folder {c2}: it cannot be read (input/output error); make it readable "
        "to include its images" in n
        for n in notes
    ), notes


@pytest.mark.parametrize("where", ["images_background", "images_background/alpha"])
def test_an_alphabet_or_its_root_that_fails_with_an_i_o_error_is_refused_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """images_background or an alphabet folder cannot be listed for a reason other than
    permission (EIO): the load ended in a bare "OSError: [Errno 5] Input/output error"
    traceback, where one without read access is refused in a sentence (s63 c4, item 2)."""
    root = _omniglot(tmp_path)
    _fail(monkeypatch, {os.fspath(root / where)}, errno.EIO)
    with warnings.catch_warnings(), pytest.raises(UnreadableFolderError) as err:
        warnings.simplefilter("ignore")
        OmniglotDataset(root)
    assert str(err.value) == (
        f"cannot read the folder {root / where} (input/output error): make it readable"
    )
