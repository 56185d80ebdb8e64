"""The two walks of a folder's entries, the listing of one folder (``list_images``: a data
set's root, an Omniglot character, the probe of loose images) and the recursive walk of a class
(``find_images`` / ``sort_files``), take each entry by one rule: an image, another file, a
folder, a link (to a file, to a folder, to nothing, to a target that cannot be read), an entry
that cannot be ``lstat``'ed, one gone since listed. The rule was written out in each (s63_m4
"left alone"): here each kind of entry is given to both, beside an image, and both must keep
or leave it out alike and name it in the same words. The tests run as root, so the OS's
refusals are made by monkeypatching (_walk_refusals)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from _walk_refusals import fail, images, link_beyond_reach, said

from siamkit.data.folders import find_images, list_images

#: each kind of entry: how it is made at ``entry`` (``tmp``: a folder outside the one walked),
#: whether it is read as an image, and what the warning says of it ("": nothing)
Make = Callable[[Path, Path, pytest.MonkeyPatch], None]


def _image(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
    images(entry.parent, entry.name)


def _text(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
    entry.with_suffix(".txt").write_text("notes")


def _hidden(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
    images(entry.parent, "." + entry.name)


def _folder(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
    entry.mkdir()


def _link_to_image(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
    os.symlink(images(tmp / "out", "o.png") / "o.png", entry)


def _link_to_folder(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
    (tmp / "outdir").mkdir()
    os.symlink(tmp / "outdir", entry)


def _link_to_nothing(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
    os.symlink(tmp / "missing.png", entry)


def _loop(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
    os.symlink(entry, entry)


def _beyond(code: int) -> Make:
    def make(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
        link_beyond_reach(mp, entry, images(tmp / "secret", "s.png") / "s.png", code)

    return make


def _unlstatable(code: int) -> Make:
    def make(entry: Path, tmp: Path, mp: pytest.MonkeyPatch) -> None:
        images(entry.parent, entry.name)
        fail(mp, ("lstat",), {entry: code})

    return make


KINDS: dict[str, tuple[Make, bool, str]] = {
    "an image": (_image, True, ""),
    "a file of no image's extension": (_text, False, ""),
    "a hidden image": (_hidden, False, ""),
    "a folder": (_folder, False, ""),
    "a link to an image": (_link_to_image, True, ""),
    "a link to a folder": (_link_to_folder, False, ""),
    "a link to nothing": (
        _link_to_nothing,
        False,
        "left out the link {e}: it leads to {t}/missing.png, which does not exist; restore its "
        "target, or remove it",
    ),
    "a link loop": (
        _loop,
        False,
        "left out the link {e}: it is a link loop (it leads back to itself); restore its "
        "target, or remove it",
    ),
    "a link whose target is refused access": (
        _beyond(errno.EACCES),
        False,
        "left out the link {e}: it leads to {t}/secret/s.png, which cannot be read (permission "
        "denied); give read access to {t}/secret/s.png, or remove the link",
    ),
    "a link whose target fails with an I/O error": (
        _beyond(errno.EIO),
        False,
        "left out the link {e}: it leads to {t}/secret/s.png, which cannot be read "
        "(input/output error); make {t}/secret/s.png readable, or remove the link",
    ),
    "an entry refused access": (
        _unlstatable(errno.EACCES),
        False,
        "left out the entry {e}: it cannot be read (permission denied); give read access to it "
        "to include it",
    ),
    "an entry that fails with an I/O error": (
        _unlstatable(errno.EIO),
        False,
        "left out the entry {e}: it cannot be read (input/output error); make it readable to "
        "include it",
    ),
    "an entry gone since listed": (_unlstatable(errno.ENOENT), False, ""),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_listing_and_the_walk_take_each_entry_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Beside an image (so the folder can be entered), each kind of entry is read as an image
    by both walks or by neither, and named by both in one sentence or by neither."""
    make, read, told = KINDS[kind]
    folder = images(tmp_path / "cat", "1.png")
    entry = folder / "e.png"
    make(entry, tmp_path, monkeypatch)
    found: list[list[Path]] = []
    flat = said(lambda: found.append(list_images(folder)))
    walked = said(lambda: found.append(find_images(folder)))
    assert found[0] == found[1] == sorted([folder / "1.png", *([entry] if read else [])])
    expected = [told.format(e=entry, t=tmp_path)] if told else []
    assert flat.notes == walked.notes == expected
