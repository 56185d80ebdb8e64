"""The walk's unreadable folders, files and link targets are told the OS's reason the walk met
(carried in its lists), not a reason asked again when the sentence is written (final41
"Work at the wrong depth"). The tests run as root here, so the OS's refusals are made by
monkeypatching os.scandir / os.lstat / os.stat with a chosen errno."""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

import pytest
from PIL import Image

from siamkit.data import folders
from siamkit.data.folders import (
    ClassFoldersError,
    ImageFolderDataset,
    UnreadableFolderError,
    read_class_folders,
)


def _refuse(monkeypatch: pytest.MonkeyPatch, name: str, paths: set[str], code: int) -> None:
    """``os.<name>`` of each of ``paths`` raises PermissionError ``code`` (EPERM, EACCES)."""
    real = getattr(os, name)

    def refused(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path) in paths:
            raise PermissionError(code, os.strerror(code), os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, refused)


def _fail_listing(monkeypatch: pytest.MonkeyPatch, codes: dict[Path, int]) -> None:
    """Listing each folder of ``codes`` (os.scandir, which the walk lists with, and os.listdir,
    which Path.iterdir does) fails with its errno (EIO, EACCES)."""
    failing = {os.fspath(p): code for p, code in codes.items()}
    for name in ("scandir", "listdir"):
        real = getattr(os, name)

        def listing(path=".", *args, _real=real, **kwargs):  # type: ignore[no-untyped-def]
            code = failing.get(os.fspath(path))
            if code is not None:
                raise OSError(code, os.strerror(code), os.fspath(path))
            return _real(path, *args, **kwargs)

        monkeypatch.setattr(os, name, listing)


def test_a_class_folder_with_an_unreadable_sub_folder_is_told_the_sub_folder_s_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat can be listed, cat/sub cannot (operation not permitted): the warning said so, and
    the refusal, asking again of cat (which it can list), said "permission denied"."""
    ds = tmp_path / "ds"
    (ds / "cat" / "sub").mkdir(parents=True)
    Image.new("L", (8, 8)).save(ds / "cat" / "sub" / "1.png")
    _refuse(monkeypatch, "scandir", {os.fspath(ds / "cat" / "sub")}, errno.EPERM)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("always")
        read_class_folders(ds)
    notes = [str(w.message) for w in caught]
    assert f"left out the folder {ds / 'cat' / 'sub'}: it cannot be read (operation not " in (
        " ".join(notes)
    )
    assert str(err.value) == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"none of the class folders could be read ({ds / 'cat'}; operation not permitted): "
        "give read access to it"  # one folder was told "them" (s62_FA finding 4)
    )


def test_entries_beside_unreachable_links_are_told_give_read_access_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two folders that cannot be read beside a link whose target cannot be: the warning said
    "give read access to them to include their images; left out the link ...: give read access
    to T, or remove the link", the fix twice in one sentence (s61_m6 noticed). One fix now."""
    ds = tmp_path / "ds"
    for name in ("a", "b", "cat"):
        (ds / name).mkdir(parents=True)
    Image.new("L", (8, 8)).save(ds / "cat" / "1.png")
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", ds / "l")
    _refuse(monkeypatch, "lstat", {os.fspath(ds / "a"), os.fspath(ds / "b")}, errno.EACCES)
    _refuse(monkeypatch, "stat", {os.fspath(ds / "l")}, errno.EPERM)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_class_folders(ds)
    said = [str(w.message) for w in caught if "cannot be read" in str(w.message)]
    assert said == [
        f"left out 2 entries that cannot be read (permission denied), e.g. {ds / 'a'}, "
        f"{ds / 'b'}; left out the link {ds / 'l'}: it leads to {tmp_path / 'secret'}, which "
        "cannot be read (operation not permitted): give read access to those entries and to the "
        "link's target, or remove the link"
    ]


def test_a_link_gone_between_the_walk_and_the_refusal_is_told_as_the_walk_met_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ds/l -> secret, whose target cannot be read, removed after the walk and before the
    refusal is worded: asked again (os.path.islink), it was told as an entry, "ds/l cannot be
    read (permission denied): ... give read access to it" (s61_m6 noticed the race had no
    test). The walk's own view is carried: a link, what it led to, and why."""
    ds = tmp_path / "ds"
    (ds / "cat").mkdir(parents=True)  # a class folder without images
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", ds / "l")
    real = os.stat

    def stat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path) == os.fspath(ds / "l") and kwargs.get("follow_symlinks", True):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    refuse = folders._refuse_nothing

    def gone_first(*args, **kwargs):  # type: ignore[no-untyped-def]
        os.unlink(ds / "l")  # the link goes once the walk is done
        return refuse(*args, **kwargs)

    monkeypatch.setattr(folders, "_refuse_nothing", gone_first)
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")
        read_class_folders(ds)
    assert str(err.value) == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"the class folder {ds / 'cat'} holds no images (.png, .jpg, .jpeg, .bmp, .gif, .tif, "
        f".tiff, .webp) and the link {ds / 'l'} leads to {tmp_path / 'secret'}, which cannot be "
        "read (permission denied): put each class's images in its sub-folder and give read "
        "access to the link's target, or remove the link"
    )


def test_a_sub_folder_that_fails_with_an_i_o_error_is_named_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat/sub cannot be listed for a reason other than permission (EIO): the walk kept only
    PermissionError, so cat/sub was dropped without a word and cat was called a class folder
    that "holds no images" (s62_r4 finding 1). It is named with the OS's reason now."""
    ds = tmp_path / "ds"
    (ds / "cat" / "sub").mkdir(parents=True)
    (ds / "dog").mkdir()
    Image.new("L", (8, 8)).save(ds / "cat" / "sub" / "1.png")
    real = os.scandir
    sub = os.fspath(ds / "cat" / "sub")

    def failing(path=".", *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path) == sub:
            raise OSError(errno.EIO, os.strerror(errno.EIO), sub)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", failing)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("always")
        read_class_folders(ds)
    notes = [str(w.message) for w in caught]
    assert any(
        f"left out the folder {sub}: it cannot be read (input/output error)" in n for n in notes
    ), notes
    said = str(err.value)
    assert f"the class folder {ds / 'cat'} cannot be read (input/output error)" in said, said
    assert f"{ds / 'cat'}, {ds / 'dog'} hold no images" not in said, said
    # read access does not fix an I/O error: it was told "give read access" (s62_FA finding 5)
    assert f"left out the folder {sub}: it cannot be read (input/output error); make it " in (
        " ".join(notes)
    ), notes
    assert said.endswith(
        ": put each class's images in its sub-folder and make the unread ones readable"
    ), said
    assert "read access" not in " ".join([said, *notes])


def test_one_fix_for_permission_and_i_o_errors_says_make_them_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat/a cannot be listed (permission denied), dog/a fails with an I/O error: "give read
    access to them" fixed only one of the two (s62_FA finding 5)."""
    ds = tmp_path / "ds"
    for name in ("cat/a", "dog/a"):
        (ds / name).mkdir(parents=True)
        Image.new("L", (8, 8)).save(ds / name / "1.png")
    real = os.scandir
    codes = {os.fspath(ds / "cat" / "a"): errno.EACCES, os.fspath(ds / "dog" / "a"): errno.EIO}

    def failing(path=".", *args, **kwargs):  # type: ignore[no-untyped-def]
        code = codes.get(os.fspath(path))
        if code:
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", failing)
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")
        read_class_folders(ds)
    assert str(err.value).endswith(
        f"({ds / 'cat'}, {ds / 'dog'}; permission denied, input/output error): make them readable"
    ), str(err.value)


def test_a_reason_two_class_folders_share_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat/a (permission denied), cat/b (operation not permitted) and dog/a (permission denied)
    cannot be listed: the refusal said "(ds/cat, ds/dog; permission denied, operation not
    permitted, permission denied)", each class's joined reasons de-duplicated as wholes
    (s62_FA finding 2)."""
    ds = tmp_path / "ds"
    codes = {"cat/a": errno.EACCES, "cat/b": errno.EPERM, "dog/a": errno.EACCES}
    for name in codes:
        (ds / name).mkdir(parents=True)
        Image.new("L", (8, 8)).save(ds / name / "1.png")
    for code in (errno.EACCES, errno.EPERM):
        paths = {os.fspath(ds / n) for n, c in codes.items() if c == code}
        _refuse(monkeypatch, "scandir", paths, code)
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")
        read_class_folders(ds)
    assert (
        f"none of the class folders could be read ({ds / 'cat'}, {ds / 'dog'}; permission "
        "denied, operation not permitted): give read access to them"
    ) in str(err.value), str(err.value)


def test_entries_that_cannot_be_lstated_are_not_called_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folders a and b that cannot be lstat'ed beside a class that can: the walk cannot tell
    whether they are folders or files, and said "left out 2 files that cannot be read ..., e.g.
    ds/a, ds/b" of two folders (s62 c8). They are "entries"; one alone is "the entry"."""
    ds = tmp_path / "ds"
    for name in ("a", "b", "cat"):
        (ds / name).mkdir(parents=True)
    Image.new("L", (8, 8)).save(ds / "cat" / "1.png")
    _refuse(monkeypatch, "lstat", {os.fspath(ds / "a"), os.fspath(ds / "b")}, errno.EACCES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_class_folders(ds)
    said = [str(w.message) for w in caught if "cannot be read" in str(w.message)]
    assert said == [
        f"left out 2 entries that cannot be read (permission denied), e.g. {ds / 'a'}, "
        f"{ds / 'b'}: give read access to them to include their images"
    ]
    assert folders._locked_note({}, {os.fspath(ds / "a"): "permission denied"}) == (
        f"left out the entry {ds / 'a'}: it cannot be read (permission denied); give read "
        "access to it to include it"
    )


def test_a_link_gone_before_the_walk_s_note_is_told_as_the_walk_met_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat/a/x.png -> secret/s.png, whose target cannot be read, is removed while the walk goes
    on (it reads cat/b after cat/a): the warning, worded once the walk is done, asked what the
    link leads to again and said "what it leads to cannot be read ...; give read access to it",
    while the refusal tells the target the walk carried (s63 c4, item 1). One source now."""
    cat = tmp_path / "ds" / "cat"
    for name in ("a", "b"):
        (cat / name).mkdir(parents=True)
    Image.new("L", (8, 8)).save(cat / "b" / "1.png")
    (tmp_path / "secret").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "secret" / "s.png")
    link = cat / "a" / "x.png"
    os.symlink(tmp_path / "secret" / "s.png", link)
    _refuse(monkeypatch, "stat", {os.fspath(link)}, errno.EACCES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = []
        for f in folders.iter_images(cat):  # cat/a is walked before cat/b: sub-folders by name
            found.append(f)
            os.unlink(link)  # gone once the walk has met it, before the walk's note is worded
    assert found == [cat / "b" / "1.png"]
    said = [str(w.message) for w in caught if "cannot be read" in str(w.message)]
    assert said == [
        f"left out the link {link}: it leads to {tmp_path / 'secret' / 's.png'}, which cannot be "
        f"read (permission denied); give read access to {tmp_path / 'secret' / 's.png'}, or "
        "remove the link"
    ]


def test_a_data_set_folder_that_fails_with_an_i_o_error_is_refused_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data set's own folder cannot be listed for a reason other than permission (EIO):
    only PermissionError was refused in a sentence, so the load ended in a bare "OSError:
    [Errno 5] Input/output error" traceback (s63 c4, item 2). It is refused as a folder without
    read access is, with the OS's reason and a fix that fixes it (read access does not)."""
    ds = tmp_path / "ds"
    (ds / "cat").mkdir(parents=True)
    Image.new("L", (8, 8)).save(ds / "cat" / "1.png")
    _fail_listing(monkeypatch, {ds: errno.EIO})
    for load in (lambda: read_class_folders(ds), lambda: ImageFolderDataset(ds, (1, 8, 8))):
        with warnings.catch_warnings(), pytest.raises(UnreadableFolderError) as err:
            warnings.simplefilter("ignore")
            load()
        assert str(err.value) == (
            f"cannot read the folder {ds} (input/output error): make it readable"
        )
        assert isinstance(err.value, ValueError)  # each command's handler says its sentence
