"""The image-folder walk follows folder links (e434fb2d); a link that leads back up to the folder
walked or one above it is a loop, left out and named, and which of two routes to one folder is
listed does not depend on the file system's directory order (reviewer s52_R3)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from siamkit.data.folders import ImageFolderDataset, LeftOutFilesWarning, find_images, sort_files


def _images(root: Path, *rels: str) -> None:
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8), 100).save(root / rel)


@pytest.mark.parametrize("target", ["..", "../..", "../../..", "."])
def test_a_link_to_a_folder_holding_the_class_folder_is_a_loop_left_out(
    tmp_path: Path, target: str
) -> None:
    """cat/up -> .. (the data set's root) walked every other class into cat: dog's images were
    listed twice, once as cat, and nothing said so; a link to / walked the whole disk (until a
    PermissionError from /proc). Such a link is now left out and named in a left-out line, and
    the classes are what the folders hold without it."""
    root = tmp_path / "data" / "photos"
    _images(root, "cat/0.png", "dog/1.png", "dog/2.png")
    _images(tmp_path, "other/9.png")  # beside data/: a link to tmp_path would reach it
    os.symlink(target, root / "cat" / "up")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = ImageFolderDataset(root, (1, 8, 8))
    got = sorted((data.classes[y], p.relative_to(root).as_posix()) for p, y in data.samples)
    assert got == [("cat", "cat/0.png"), ("dog", "dog/1.png"), ("dog", "dog/2.png")]
    notes = [str(w.message) for w in caught if issubclass(w.category, LeftOutFilesWarning)]
    assert len(notes) == 1 and f"left out the folder {root / 'cat' / 'up'}:" in notes[0], notes
    assert "link loop" in notes[0]


def test_a_link_below_a_linked_folder_back_to_the_root_is_a_loop(tmp_path: Path) -> None:
    """A link inside a linked folder (photos/cat/2019 -> archive/cat-2019, and in it
    back -> photos) leads up to the data set's root by another route: left out too."""
    root, archive = tmp_path / "photos", tmp_path / "archive"
    _images(root, "cat/0.png", "dog/1.png")
    _images(archive, "cat-2019/5.png")
    os.symlink(archive / "cat-2019", root / "cat" / "2019")
    os.symlink(root, archive / "cat-2019" / "back")
    with pytest.warns(LeftOutFilesWarning, match="cat/2019/back: it is a link to"):
        images, others = sort_files(root / "cat")
    assert [p.relative_to(root).as_posix() for p in images] == ["cat/0.png", "cat/2019/5.png"]
    assert others == []


def test_a_link_to_a_folder_beside_is_read_and_not_called_a_loop(tmp_path: Path) -> None:
    """A link to a folder that does not hold the link (an archive elsewhere) is read, as
    e434fb2d meant, with no left-out line."""
    root, archive = tmp_path / "photos", tmp_path / "archive"
    _images(root, "cat/0.png")
    _images(archive, "cat-2019/1.png")
    os.symlink(archive / "cat-2019", root / "cat" / "2019")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = [p.relative_to(root).as_posix() for p in find_images(root / "cat")]
    assert got == ["cat/0.png", "cat/2019/1.png"]


def _scandir_in(order: str) -> type:
    """os.scandir listing a folder's entries by name, forward or reversed."""
    real = os.scandir

    class _Listing:
        def __init__(self, path: str) -> None:
            with real(path) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=order == "reverse")
            self.it: Iterator[os.DirEntry[str]] = iter(entries)

        def __enter__(self) -> _Listing:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def __iter__(self) -> _Listing:
            return self

        def __next__(self) -> os.DirEntry[str]:
            return next(self.it)

    return _Listing


def test_which_route_to_a_folder_is_listed_does_not_depend_on_the_directory_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With cat/realI and cat/linkI -> realI, the walk listed whichever of the two came first
    in the file system's directory order (ext4 and tmpfs differ), so one data set gave other
    sample paths on another disk (an SSL run's folder_id, a seeded split's draw). Sub-folders
    are now walked in name order: link0..7 (l before r) whatever the directory order."""
    cat = tmp_path / "cat"
    for i in range(8):
        _images(cat, f"real{i}/x.png")
        os.symlink(f"real{i}", cat / f"link{i}")
    listings = {}
    for order in ("forward", "reverse"):
        monkeypatch.setattr(os, "scandir", _scandir_in(order))
        listings[order] = [p.relative_to(cat).as_posix() for p in find_images(cat)]
        monkeypatch.undo()
    assert listings["forward"] == listings["reverse"] == [f"link{i}/x.png" for i in range(8)]
