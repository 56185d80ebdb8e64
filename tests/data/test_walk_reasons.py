"""The walk's unreadable folders, files and link targets are told the OS's reason the walk met
(carried in its lists), not a reason asked again when the sentence is written (final41
"Work at the wrong depth"). The tests run as root here, so the OS's refusals are made by
monkeypatching os.scandir / os.listdir / os.lstat / os.stat with a chosen errno
(_walk_refusals)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _walk_refusals import Said, fail, fail_listing, images, link_beyond_reach, said

from siamkit.data import folders
from siamkit.data.folders import (
    ClassFoldersError,
    ClassWalk,
    FolderAccessError,
    ImageFolderDataset,
    UnreadableFolderError,
    read_class_folders,
)


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    """The data set's folder (made by each test, with what it holds)."""
    return tmp_path / "ds"


def _read(ds: Path, refused: type[BaseException] | None = None) -> Said:
    """What read_class_folders(ds) said (``refused``: the error it must raise)."""
    return said(lambda: read_class_folders(ds), refused)


def test_a_class_folder_with_an_unreadable_sub_folder_is_told_the_sub_folder_s_reason(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat can be listed, cat/sub cannot (operation not permitted): the warning said so, and
    the refusal, asking again of cat (which it can list), said "permission denied"."""
    images(ds, "cat/sub/1.png")
    fail_listing(monkeypatch, {ds / "cat" / "sub": errno.EPERM})
    got = _read(ds, ClassFoldersError)
    assert f"left out the folder {ds / 'cat' / 'sub'}: it cannot be read (operation not " in (
        " ".join(got.notes)
    )
    assert got.refusal == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"none of the class folders could be read ({ds / 'cat'}; operation not permitted): "
        "give read access to it"  # one folder was told "them" (s62_FA finding 4)
    )


def test_entries_beside_unreachable_links_are_told_give_read_access_once(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two folders that cannot be read beside a link whose target cannot be: the warning said
    "give read access to them to include their images; left out the link ...: give read access
    to T, or remove the link", the fix twice in one sentence (s61_m6 noticed). One fix now."""
    images(ds, "cat/1.png", folders=("a", "b"))
    secret = images(tmp_path / "secret")
    link_beyond_reach(monkeypatch, ds / "l", secret, errno.EPERM)
    fail(monkeypatch, ("lstat",), {ds / "a": errno.EACCES, ds / "b": errno.EACCES})
    told = [n for n in _read(ds).notes if "cannot be read" in n]
    assert told == [
        f"left out 2 entries that cannot be read (permission denied), e.g. {ds / 'a'}, "
        f"{ds / 'b'}; left out the link {ds / 'l'}: it leads to {secret}, which "
        "cannot be read (operation not permitted): give read access to those entries and to the "
        "link's target, or remove the link"
    ]


def test_a_link_gone_between_the_walk_and_the_refusal_is_told_as_the_walk_met_it(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ds/l -> secret, whose target cannot be read, removed after the walk and before the
    refusal is worded: asked again (os.path.islink), it was told as an entry, "ds/l cannot be
    read (permission denied): ... give read access to it" (s61_m6 noticed the race had no
    test). The walk's own view is carried: a link, what it led to, and why."""
    images(ds, folders=("cat",))  # a class folder without images
    secret = images(tmp_path / "secret")
    link_beyond_reach(monkeypatch, ds / "l", secret, errno.EACCES)
    refuse = folders._refuse_nothing

    def gone_first(*args, **kwargs):  # type: ignore[no-untyped-def]
        os.unlink(ds / "l")  # the link goes once the walk is done
        return refuse(*args, **kwargs)

    monkeypatch.setattr(folders, "_refuse_nothing", gone_first)
    assert _read(ds, ClassFoldersError).refusal == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"the class folder {ds / 'cat'} holds no images (.png, .jpg, .jpeg, .bmp, .gif, .tif, "
        f".tiff, .webp) and the link {ds / 'l'} leads to {secret}, which cannot be "
        "read (permission denied): put each class's images in its sub-folder and give read "
        "access to the link's target, or remove the link"
    )


def test_a_class_whose_only_file_is_a_link_beyond_reach_is_refused_by_its_link(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat's only file is a link whose target cannot be read: the warning named the link and its
    target, the refusal blamed cat, "none of the class folders could be read (ds/cat; permission
    denied): give read access to it", a folder that can be read (s63_r4 finding 6). The refusal
    names the link, its target and its fix, as the warning does; training's load says the same."""
    images(ds, folders=("cat",))
    secret = images(tmp_path / "secret", "s.png")
    link_beyond_reach(monkeypatch, ds / "cat" / "x.png", secret / "s.png", errno.EACCES)
    for load in (
        lambda: read_class_folders(ds),
        lambda: ImageFolderDataset(ds, (1, 8, 8)),
    ):
        got = said(load, ClassFoldersError)
        assert got.refusal == (
            f"no class folder of {ds} holds images that can be read and that no other class "
            f"holds: the link {ds / 'cat' / 'x.png'} leads to {secret / 's.png'}, which cannot "
            "be read (permission denied): give read access to the link's target, or remove the "
            "link"
        )
        assert got.notes == [
            f"left out the link {ds / 'cat' / 'x.png'}: it leads to {secret / 's.png'}, which "
            f"cannot be read (permission denied); give read access to {secret / 's.png'}, or "
            "remove the link"
        ]


def test_a_class_with_a_folder_and_a_link_it_cannot_read_is_told_each_with_its_own_reason(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat holds a sub-folder that fails with an I/O error and a link whose target is refused
    access: the refusal said "none of the class folders could be read (ds/cat; input/output
    error, permission denied): make it readable", the link's reason said of the folder, and no
    word of the link or its target (s63_r4 finding 6). The folder keeps its own reason, the link is named with its target."""
    images(ds, "cat/sub/1.png")
    secret = images(tmp_path / "secret", "s.png")
    link_beyond_reach(monkeypatch, ds / "cat" / "x.png", secret / "s.png", errno.EACCES)
    fail_listing(monkeypatch, {ds / "cat" / "sub": errno.EIO})
    assert _read(ds, ClassFoldersError).refusal == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"the class folder {ds / 'cat'} cannot be read (input/output error) and the link "
        f"{ds / 'cat' / 'x.png'} leads to {secret / 's.png'}, which cannot be read (permission "
        "denied): make it readable, and give read access to the link's target, or remove the "
        "link"
    )


def test_a_sub_folder_that_fails_with_an_i_o_error_is_named_with_its_reason(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat/sub cannot be listed for a reason other than permission (EIO): the walk kept only
    PermissionError, so cat/sub was dropped without a word and cat was called a class folder
    that "holds no images" (s62_r4 finding 1). It is named with the OS's reason now."""
    images(ds, "cat/sub/1.png", folders=("dog",))
    sub = os.fspath(ds / "cat" / "sub")
    fail_listing(monkeypatch, {ds / "cat" / "sub": errno.EIO})
    got = _read(ds, ClassFoldersError)
    notes, refusal = got.notes, got.refusal
    assert any(
        f"left out the folder {sub}: it cannot be read (input/output error)" in n for n in notes
    ), notes
    assert f"the class folder {ds / 'cat'} cannot be read (input/output error)" in refusal, refusal
    assert f"{ds / 'cat'}, {ds / 'dog'} hold no images" not in refusal, refusal
    # read access does not fix an I/O error: it was told "give read access" (s62_FA finding 5)
    assert f"left out the folder {sub}: it cannot be read (input/output error); make it " in (
        " ".join(notes)
    ), notes
    assert refusal.endswith(
        ": put each class's images in its sub-folder and make the unread ones readable"
    ), refusal
    assert "read access" not in " ".join([refusal, *notes])


def test_one_fix_for_permission_and_i_o_errors_says_make_them_readable(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat/a cannot be listed (permission denied), dog/a fails with an I/O error: "give read
    access to them" fixed only one of the two (s62_FA finding 5)."""
    images(ds, "cat/a/1.png", "dog/a/1.png")
    fail_listing(monkeypatch, {ds / "cat" / "a": errno.EACCES, ds / "dog" / "a": errno.EIO})
    refusal = _read(ds, ClassFoldersError).refusal
    assert refusal.endswith(
        f"({ds / 'cat'}, {ds / 'dog'}; permission denied, input/output error): make them readable"
    ), refusal


def test_a_reason_two_class_folders_share_is_said_once(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat/a (permission denied), cat/b (operation not permitted) and dog/a (permission denied)
    cannot be listed: the refusal said "(ds/cat, ds/dog; permission denied, operation not
    permitted, permission denied)", each class's joined reasons de-duplicated as wholes
    (s62_FA finding 2)."""
    codes = {"cat/a": errno.EACCES, "cat/b": errno.EPERM, "dog/a": errno.EACCES}
    images(ds, *(f"{name}/1.png" for name in codes))
    fail_listing(monkeypatch, {ds / name: code for name, code in codes.items()})
    refusal = _read(ds, ClassFoldersError).refusal
    assert (
        f"none of the class folders could be read ({ds / 'cat'}, {ds / 'dog'}; permission "
        "denied, operation not permitted): give read access to them"
    ) in refusal, refusal


def test_entries_that_cannot_be_lstated_are_not_called_files(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folders a and b that cannot be lstat'ed beside a class that can: the walk cannot tell
    whether they are folders or files, and said "left out 2 files that cannot be read ..., e.g.
    ds/a, ds/b" of two folders (s62 c8). They are "entries"; one alone is "the entry"."""
    images(ds, "cat/1.png", folders=("a", "b"))
    fail(monkeypatch, ("lstat",), {ds / "a": errno.EACCES, ds / "b": errno.EACCES})
    told = [n for n in _read(ds).notes if "cannot be read" in n]
    assert told == [
        f"left out 2 entries that cannot be read (permission denied), e.g. {ds / 'a'}, "
        f"{ds / 'b'}: give read access to them to include their images"
    ]
    assert folders._locked_note({}, {os.fspath(ds / "a"): "permission denied"}) == (
        f"left out the entry {ds / 'a'}: it cannot be read (permission denied); give read "
        "access to it to include it"
    )


def test_a_link_gone_before_the_walk_s_note_is_told_as_the_walk_met_it(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat/a/x.png -> secret/s.png, whose target cannot be read, is removed while the walk goes
    on (it reads cat/b after cat/a): the warning, worded once the walk is done, asked what the
    link leads to again and said "what it leads to cannot be read ...; give read access to it",
    while the refusal tells the target the walk carried (s63 c4, item 1). One source now."""
    cat = images(ds / "cat", "b/1.png", folders=("a",))
    target = images(tmp_path / "secret", "s.png") / "s.png"
    link = cat / "a" / "x.png"
    link_beyond_reach(monkeypatch, link, target, errno.EACCES)
    found = []

    def walk() -> None:
        for f in folders.iter_images(cat):  # cat/a is walked before cat/b: sub-folders by name
            found.append(f)
            os.unlink(link)  # gone once the walk has met it, before the walk's note is worded

    told = [n for n in said(walk).notes if "cannot be read" in n]
    assert found == [cat / "b" / "1.png"]
    assert told == [
        f"left out the link {link}: it leads to {target}, which cannot be read (permission "
        f"denied); give read access to {target}, or remove the link"
    ]


def test_a_data_set_folder_that_fails_with_an_i_o_error_is_refused_in_one_sentence(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data set's own folder cannot be listed for a reason other than permission (EIO):
    only PermissionError was refused in a sentence, so the load ended in a bare "OSError:
    [Errno 5] Input/output error" traceback (s63 c4, item 2). It is refused as a folder without
    read access is, with the OS's reason and a fix that fixes it (read access does not)."""
    images(ds, "cat/1.png")
    fail_listing(monkeypatch, {ds: errno.EIO})
    for load in (lambda: read_class_folders(ds), lambda: ImageFolderDataset(ds, (1, 8, 8))):
        error = said(load, UnreadableFolderError).error
        assert str(error) == f"cannot read the folder {ds} (input/output error): make it readable"
        assert isinstance(error, ValueError)  # each command's handler says its sentence


def test_a_data_set_folder_whose_stat_fails_with_an_i_o_error_is_refused_in_one_sentence(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stat of the data set's own folder fails with an I/O error: Path.is_dir raised it, so
    ImageFolderDataset ended in a bare "OSError: [Errno 5]" (c4's open point 3). It is refused
    as a folder that cannot be listed is, not told "does not exist"."""
    images(ds, "cat/1.png")
    fail(monkeypatch, ("stat",), {ds: errno.EIO})
    error = said(lambda: ImageFolderDataset(ds, (1, 8, 8)), UnreadableFolderError).error
    assert str(error) == f"cannot read the folder {ds} (input/output error): make it readable"


def test_a_data_set_folder_whose_stat_is_refused_access_is_refused_in_one_sentence(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stat of the data set's own folder fails for want of access (a folder above it that
    this user cannot search): Path.is_dir raised a bare PermissionError, and since e8ed8d21 it
    is refused in one sentence, which no test held (s63_m4 left it untested). It is a
    FolderAccessError (a PermissionError and a ValueError), not told "does not exist", and its
    fix is the one stat's EACCES wants: it said "give read access to it (and to the folders in
    it)", which fixes nothing of a folder above it."""
    images(ds, "cat/1.png")
    fail(monkeypatch, ("stat",), {ds: errno.EACCES})
    error = said(lambda: ImageFolderDataset(ds, (1, 8, 8)), FolderAccessError).error
    assert isinstance(error, PermissionError) and isinstance(error, ValueError)
    assert str(error) == (
        f"cannot reach the folder {ds} (permission denied): give this user search access (x) to "
        "the folders above it"
    )


def test_an_entry_of_the_data_set_folder_that_fails_with_an_i_o_error_is_named_and_left_out(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data set's folder can be listed, but the stat of its entry cat fails with an I/O
    error: a bare OSError, then "cannot read the folder ds (input/output error)", the folder
    that could be listed, then "cannot read the entry ds/cat of the folder ds" (s63 c4, item
    2), which refused the whole data set for one entry, where the walk leaves out and names an
    entry it cannot lstat for want of access (s63_r4 finding 1). dog is still read."""
    images(ds, "cat/1.png", "dog/1.png")
    fail(monkeypatch, ("lstat",), {ds / "cat": errno.EIO})
    walk: list[ClassWalk] = []
    for load in (
        lambda: walk.append(read_class_folders(ds)),
        lambda: ImageFolderDataset(ds, (1, 8, 8)),
    ):
        got = said(load)
        assert [n for n in got.notes if "cannot be read" in n] == [
            f"left out the entry {ds / 'cat'}: it cannot be read (input/output error); make it "
            "readable to include it"
        ]
    assert list(walk[0].files) == [ds / "dog"]


def test_the_only_entry_of_a_data_set_folder_that_fails_with_an_i_o_error_is_named(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The only entry of the data set's folder fails with an I/O error: the folder could be
    listed, so it is not told "cannot be read", as a folder none of whose entries can be
    lstat'ed for want of access (r--) is; the entry is (s63_r4 finding 1)."""
    images(ds, "cat/1.png")
    fail(monkeypatch, ("lstat",), {ds / "cat": errno.EIO})
    refusal = _read(ds, ClassFoldersError).refusal
    assert f"{ds / 'cat'} cannot be read (input/output error)" in refusal, refusal
    assert f"the folder {ds}" not in refusal, refusal


def test_a_file_of_a_class_that_fails_with_an_i_o_error_is_named_and_left_out(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lstat of cat/2.png fails with an I/O error (one bad sector among a class's images):
    the load ended in a bare "OSError: [Errno 5]" (c4's open point 1). The file is left out and
    named, as one that cannot be lstat'ed for want of access is, and cat keeps its others."""
    images(ds, "cat/1.png", "cat/2.png", "dog/1.png")
    fail(monkeypatch, ("lstat",), {ds / "cat" / "2.png": errno.EIO})
    loaded: list[ImageFolderDataset] = []
    got = said(lambda: loaded.append(ImageFolderDataset(ds, (1, 8, 8))))
    assert [n for n in got.notes if "cannot be read" in n] == [
        f"left out the entry {ds / 'cat' / '2.png'}: it cannot be read (input/output error); "
        "make it readable to include it"
    ]
    assert loaded[0].samples == [(ds / "cat" / "1.png", 0), (ds / "dog" / "1.png", 1)]


def test_a_class_none_of_whose_files_can_be_lstated_for_an_i_o_error_names_them(
    ds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file of cat fails its lstat with an I/O error: cat could be listed and entered, so
    the files are named, not cat told "cannot be read" as a folder of mode r-- is."""
    images(ds, "cat/1.png", "cat/2.png", "dog/1.png")
    fail(monkeypatch, ("lstat",), {ds / "cat" / n: errno.EIO for n in ("1.png", "2.png")})
    told = [n for n in said(lambda: read_class_folders(ds)).notes if "cannot be read" in n]
    assert told == [
        f"left out 2 entries that cannot be read (input/output error), e.g. "
        f"{ds / 'cat' / '1.png'}, {ds / 'cat' / '2.png'}: make them readable to include their "
        "images"
    ]


@pytest.mark.parametrize(
    ("code", "access"), [(errno.EIO, False), (errno.EACCES, True), (errno.EPERM, True)]
)
def test_a_folder_refused_for_an_i_o_error_is_no_permission_error(
    ds: Path, monkeypatch: pytest.MonkeyPatch, code: int, access: bool
) -> None:
    """UnreadableFolderError was a PermissionError whatever the reason, so a library user's
    ``except PermissionError:`` (no access) caught a failing disk (c4's open point 4). One for
    want of access is a FolderAccessError, a PermissionError too; one for an I/O error is
    neither. Each is a ValueError (each command's handler says its sentence), and carries no
    errno (a handler of OSError by errno would say its own sentence)."""
    images(ds, "cat/1.png")
    fail_listing(monkeypatch, {ds: code})
    error = _read(ds, UnreadableFolderError).error
    assert isinstance(error, OSError) and isinstance(error, ValueError) and error.errno is None
    assert isinstance(error, PermissionError) is access
    assert isinstance(error, FolderAccessError) is access


def test_a_link_whose_target_fails_with_an_i_o_error_is_told_make_it_readable(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stat through cat/x.png -> secret/s.png fails with an I/O error: the link was told
    "give read access to secret/s.png", which does not fix it, though its reason said
    "input/output error" (s63_r4 finding 1). The fix is the one an entry's I/O error gets."""
    cat = images(ds / "cat", "1.png")
    target = images(tmp_path / "secret", "s.png") / "s.png"
    link_beyond_reach(monkeypatch, cat / "x.png", target, errno.EIO)
    assert [n for n in _read(ds).notes if "cannot be read" in n] == [
        f"left out the link {cat / 'x.png'}: it leads to {target}, which cannot be read "
        f"(input/output error); make {target} readable, or remove the link"
    ]


def test_links_whose_targets_fail_with_an_i_o_error_are_told_make_them_readable(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two links of cat whose targets fail with an I/O error were told "give read access to
    their targets" (s63_r4 finding 1)."""
    cat = images(ds / "cat", "1.png")
    secret = images(tmp_path / "secret", "s.png", "t.png")
    link_beyond_reach(monkeypatch, cat / "x.png", secret / "s.png", errno.EIO)
    link_beyond_reach(monkeypatch, cat / "y.png", secret / "t.png", errno.EIO)
    assert [n for n in _read(ds).notes if "cannot be read" in n] == [
        f"left out 2 links whose targets cannot be read: {cat / 'x.png'} leads to "
        f"{secret / 's.png'} (input/output error) and {cat / 'y.png'} leads to "
        f"{secret / 't.png'} (input/output error): make their targets readable, or remove the "
        "links"
    ]


def test_entries_beside_a_link_whose_target_fails_with_an_i_o_error_are_told_each_fix(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two entries that cannot be read for want of access beside a link whose target fails
    with an I/O error: the one fix said "give read access to those entries and to the link's
    target" (s63_r4 finding 1). Each is told the fix that fixes it."""
    images(ds, "cat/1.png", folders=("a", "b"))
    secret = images(tmp_path / "secret")
    link_beyond_reach(monkeypatch, ds / "l", secret, errno.EIO)
    fail(monkeypatch, ("lstat",), {ds / "a": errno.EACCES, ds / "b": errno.EACCES})
    assert [n for n in _read(ds).notes if "cannot be read" in n] == [
        f"left out 2 entries that cannot be read (permission denied), e.g. {ds / 'a'}, "
        f"{ds / 'b'}; left out the link {ds / 'l'}: it leads to {secret}, which cannot be read "
        "(input/output error): give read access to those entries, and make the link's target "
        "readable, or remove the link"
    ]


def test_the_refusal_of_a_link_whose_target_fails_with_an_i_o_error_says_make_it_readable(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data set of an empty class folder and ds/l, whose target fails with an I/O error: the
    refusal told "give read access to the link's target" (s63_r4 finding 1)."""
    images(ds, folders=("cat",))
    secret = images(tmp_path / "secret")
    link_beyond_reach(monkeypatch, ds / "l", secret, errno.EIO)
    assert _read(ds, ClassFoldersError).refusal == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"the class folder {ds / 'cat'} holds no images (.png, .jpg, .jpeg, .bmp, .gif, .tif, "
        f".tiff, .webp) and the link {ds / 'l'} leads to {secret}, which cannot be read "
        "(input/output error): put each class's images in its sub-folder and make the link's "
        "target readable, or remove the link"
    )


def test_links_without_their_targets_do_not_type_check(tmp_path: Path) -> None:
    """_locked_note took ``links`` and ``targets`` each with a default, so a call with links and
    no targets type-checked, then raised a KeyError at ``targets[link]`` (s63_r4 finding 5): its
    overloads take the two together or neither. mypy reads folders.py alone (its imports
    skipped: about 5 s) and a caller's three calls."""
    (tmp_path / "caller.py").write_text(
        "from siamkit.data import folders\n"
        'folders._locked_note({}, {}, {"l": "permission denied"})\n'
        'folders._locked_note({}, {}, {"l": "permission denied"}, {"l": None})\n'
        'folders._locked_note({"a": "permission denied"})\n'
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--follow-imports=skip",
            "--ignore-missing-imports",
            "--cache-dir",
            str(tmp_path / "cache"),
            folders.__file__,
            "caller.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and errors[0].startswith("caller.py:2: error:"), out.stdout
    assert "[call-overload]" in errors[0], out.stdout


def test_a_data_set_folder_path_holding_a_nul_is_refused_naming_the_nul(tmp_path: Path) -> None:
    """s63_LR2 finding 3: a NUL in the data set's path (a config or a library caller can give
    one, argv cannot) ended the load in Python's bare "embedded null byte", which names neither
    the path nor what to do."""
    root = f"{tmp_path}/x\0y"
    error = said(lambda: ImageFolderDataset(root, (1, 8, 8)), ValueError).error
    assert str(error) == (
        f"the folder path {tmp_path}/x\\0y holds a NUL character (\\0), which no path on disk "
        "can hold: give the folder's path without it"
    )
    # the class walk's listing says the same, not realpath's "embedded null byte" (s64_r3
    # finding 2)
    error = said(lambda: read_class_folders(Path(root)), ValueError).error
    assert str(error) == (
        f"the folder path {tmp_path}/x\\0y holds a NUL character (\\0), which no path on disk "
        "can hold: give the folder's path without it"
    )


def test_a_data_set_folder_name_too_long_is_told_so_not_make_it_readable(
    tmp_path: Path,
) -> None:
    """s63_LR2 finding 3: a name longer than the file system takes (ENAMETOOLONG, no
    monkeypatch: 300 bytes) was told "make it readable", which cannot fix it; the data set's
    own stat and the class walk's listing both say what is wrong and what does fix it."""
    root = tmp_path / ("a" * 300)
    for load in (lambda: ImageFolderDataset(root, (1, 8, 8)), lambda: read_class_folders(root)):
        error = said(load, UnreadableFolderError).error
        assert str(error) == (
            f"the folder path {root} is longer than the file system takes (file name too "
            "long: a name in it, or the whole path): give a shorter path to the folder"
        )
