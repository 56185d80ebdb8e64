"""Omniglot character folders that cannot be listed are told so, with the OS's reason, not
called folders that "hold no images" (s62_FA finding 1). The tests run as root here, so the
OS's refusals are made by monkeypatching os.scandir / os.listdir with a chosen errno
(_walk_refusals)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from _walk_refusals import Said, fail, fail_listing, images, link_beyond_reach, said

from siamkit.data.folders import EmptyFoldersWarning, OmniglotDataset, UnreadableFolderError

#: the one alphabet of :func:`omni`, relative to its root
_ALPHA = "images_background/alpha"


@pytest.fixture
def omni(tmp_path: Path) -> Path:
    """``omni/images_background/alpha/{c1,c2}``, two images each."""
    return images(
        tmp_path / "omni", *(f"{_ALPHA}/{c}/{i}.png" for c in ("c1", "c2") for i in (0, 1))
    )


def _load(
    root: Path, refused: type[BaseException] | None = None
) -> tuple[OmniglotDataset | None, Said]:
    """OmniglotDataset(root) (``None`` where refused) and what it said (``refused``: the error
    it must raise)."""
    loaded: list[OmniglotDataset] = []
    got = said(lambda: loaded.append(OmniglotDataset(root)), refused)
    return (loaded[0] if loaded else None), got


def test_a_character_folder_that_cannot_be_listed_is_not_called_empty(
    omni: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c2 cannot be listed: it was named both as a folder that "cannot be read" and as one that
    "holds no images ... add its images, or remove the folder"."""
    c2 = omni / _ALPHA / "c2"
    fail_listing(monkeypatch, {c2: errno.EACCES})
    ds, got = _load(omni)
    assert ds is not None
    assert ds.classes == ["alpha/c1"]
    assert ds.empty_folders == []
    # LeftOutFilesWarning is an EmptyFoldersWarning: the empty-folder note is one of its own
    empty = [n for n, c in zip(got.notes, got.categories) if c is EmptyFoldersWarning]
    assert empty == [], empty
    assert not any("holds no images" in n for n in got.notes)
    assert any(
        f"left out the folder {c2}: it cannot be read (permission denied)" in n for n in got.notes
    )


def test_character_folders_that_cannot_be_listed_are_named_by_the_refusal(
    omni: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither character can be listed: the refusal said only "No Omniglot images under ...;
    expected images_background/<alphabet>/<character>/*.png.", naming neither."""
    c1, c2 = omni / _ALPHA / "c1", omni / _ALPHA / "c2"
    fail_listing(monkeypatch, {c1: errno.EPERM, c2: errno.EPERM})
    refusal = _load(omni, ValueError)[1].refusal
    assert refusal.endswith(
        f": {c1}, {c2} cannot be read (operation not permitted): give read access to them"
    ), refusal


def test_a_character_folder_that_fails_with_an_i_o_error_is_named_and_left_out(
    omni: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c2 cannot be listed for a reason other than permission (EIO): _list_images caught only
    PermissionError, so the load ended with a bare "OSError: [Errno 5] Input/output error"
    (s62_FA finding 3), while the class walk names such a folder and leaves it out."""
    c2 = omni / _ALPHA / "c2"
    fail_listing(monkeypatch, {c2: errno.EIO})
    ds, got = _load(omni)
    assert ds is not None
    assert ds.classes == ["alpha/c1"]
    assert ds.empty_folders == []
    assert any(
        f"left out the folder {c2}: it cannot be read (input/output error); make it readable "
        "to include its images" in n
        for n in got.notes
    ), got.notes


def test_a_character_s_file_that_fails_with_an_i_o_error_is_named_not_its_folder(
    omni: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lstat of c1/1.png fails with an I/O error: _list_images took it as c1's listing
    failing, told "left out the folder c1: it cannot be read (input/output error)" of a folder
    that was listed, and dropped c1's readable 0.png with it (c4's open point 2). The file is
    named, and c1 keeps its other image."""
    c1 = omni / _ALPHA / "c1"
    fail(monkeypatch, ("lstat",), {c1 / "1.png": errno.EIO})
    ds, got = _load(omni)
    assert ds is not None
    assert ds.classes == ["alpha/c1", "alpha/c2"]
    assert [p for p, label in ds.samples if label == 0] == [c1 / "0.png"]
    assert [n for n in got.notes if "cannot be read" in n] == [
        f"left out the entry {c1 / '1.png'}: it cannot be read (input/output error); make it "
        "readable to include it"
    ]


@pytest.mark.parametrize("where", ["images_background", _ALPHA])
def test_an_alphabet_or_its_root_that_fails_with_an_i_o_error_is_refused_in_one_sentence(
    omni: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """images_background or an alphabet folder cannot be listed for a reason other than
    permission (EIO): the load ended in a bare "OSError: [Errno 5] Input/output error"
    traceback, where one without read access is refused in a sentence (s63 c4, item 2)."""
    fail_listing(monkeypatch, {omni / where: errno.EIO})
    assert _load(omni, UnreadableFolderError)[1].refusal == (
        f"cannot read the folder {omni / where} (input/output error): make it readable"
    )


@pytest.mark.parametrize("where", [pytest.param("", id="root"), "images_background"])
def test_an_omniglot_folder_whose_stat_fails_with_an_i_o_error_is_refused_in_one_sentence(
    omni: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The stat of Omniglot's root or of its images_background fails with an I/O error:
    Path.is_dir raised it, so the load ended in a bare "OSError: [Errno 5]" (c4's open point
    3). It is refused as a folder that cannot be listed is."""
    fail(monkeypatch, ("stat",), {omni / where: errno.EIO})
    assert _load(omni, UnreadableFolderError)[1].refusal == (
        f"cannot read the folder {omni / where} (input/output error): make it readable"
    )


def test_a_character_whose_only_image_is_a_link_beyond_reach_is_told_by_its_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c1's only file is a link whose target cannot be read: the warning named the link, and
    beside c2 c1 was also told "holds no images ...: add its images, or remove the folder";
    alone, the refusal named nothing ("No Omniglot images under ...; expected
    .../*.png."), as the class walk's refusal blamed the class folder (s63_r4 finding 6). The
    refusal names the link, its target and its fix; c1 is not called empty."""
    omni = images(tmp_path / "omni", folders=(f"{_ALPHA}/c1",))
    secret = images(tmp_path / "secret", "s.png")
    link = omni / _ALPHA / "c1" / "x.png"
    link_beyond_reach(monkeypatch, link, secret / "s.png", errno.EACCES)
    told = (
        f"left out the link {link}: it leads to {secret / 's.png'}, which cannot be read "
        f"(permission denied); give read access to {secret / 's.png'}, or remove the link"
    )
    got = _load(omni, ValueError)[1]
    assert got.notes == [told]
    assert got.refusal == (
        f"No Omniglot images under '{omni}'; expected images_background/<alphabet>/<character>/"
        f"*.png: the link {link} leads to {secret / 's.png'}, which cannot be read (permission "
        "denied): give read access to the link's target, or remove the link"
    )
    images(omni, f"{_ALPHA}/c2/0.png")
    ds, got = _load(omni)
    assert ds is not None and ds.classes == ["alpha/c2"] and ds.empty_folders == []
    assert got.notes == [told]


def test_a_character_whose_only_file_fails_with_an_i_o_error_is_not_called_empty(
    omni: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c1's files cannot be lstat'ed (EIO; the folder was listed, so it is not one that "cannot
    be read"): the warning named the file, and c1 was also told "holds no images ...: add its
    images, or remove the folder" (ca14d3c2's message claims this case, here held)."""
    c1 = omni / _ALPHA / "c1"
    fail(monkeypatch, ("lstat",), {c1 / "0.png": errno.EIO, c1 / "1.png": errno.EIO})
    ds, got = _load(omni)
    assert ds is not None and ds.classes == ["alpha/c2"] and ds.empty_folders == []
    assert got.notes == [
        f"left out 2 entries that cannot be read (input/output error), e.g. {c1 / '0.png'}, "
        f"{c1 / '1.png'}: make them readable to include their images"
    ]
