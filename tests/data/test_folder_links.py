"""The image-folder walk follows folder links (e434fb2d); a link that leads back up to the folder
walked or one above it is a loop, left out and named, and which of two routes to one folder is
listed does not depend on the file system's directory order (reviewer s52_R3)."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from siamkit.data.folders import (
    EmptyFoldersWarning,
    ImageFolderDataset,
    LeftOutFilesWarning,
    find_images,
    sort_files,
)


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


@pytest.mark.parametrize("target", ["../dog", "../dog/2019"])
def test_a_link_into_another_class_folder_is_left_out_and_named(
    tmp_path: Path, target: str
) -> None:
    """cat/dogs -> ../dog read dog's images into cat too, without a word: each of them counted
    as two classes, so a pair of one dog's photos was both genuine and impostor (reviewer s53_c6
    finding 1). Checked against os.walk(followlinks=True), which reads them into both; the link
    is now left out and named, as a loop is."""
    root = tmp_path / "photos"
    _images(root, "cat/0.png", "dog/1.png", "dog/2019/2.png")
    os.symlink(target, root / "cat" / "dogs")
    walked = {
        os.path.realpath(os.path.join(w, f))
        for w, _, fs in os.walk(root / "cat", followlinks=True)
        for f in fs
    }
    assert os.path.realpath(root / "dog" / "2019" / "2.png") in walked  # the reference reads it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = ImageFolderDataset(root, (1, 8, 8))
    got = sorted((data.classes[y], p.relative_to(root).as_posix()) for p, y in data.samples)
    assert got == [("cat", "cat/0.png"), ("dog", "dog/1.png"), ("dog", "dog/2019/2.png")]
    notes = [str(w.message) for w in caught if issubclass(w.category, LeftOutFilesWarning)]
    assert len(notes) == 1, notes
    assert f"left out the folder {root / 'cat' / 'dogs'}: it leads to" in notes[0]
    assert "folder of another class" in notes[0] and "count as both classes" in notes[0]


def test_a_class_folder_that_is_a_link_into_a_folder_beside_is_still_read(tmp_path: Path) -> None:
    """The other classes' folders are only refused below a class folder: a class folder that
    is itself a link (photos/cat -> archive/cat) and one whose link holds another's archive are
    read as before, without a left-out line."""
    root, archive = tmp_path / "photos", tmp_path / "archive"
    _images(archive, "cat/0.png", "cat/1.png")
    _images(root, "dog/2.png")
    root.mkdir(exist_ok=True)
    os.symlink(archive / "cat", root / "cat")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = ImageFolderDataset(root, (1, 8, 8))
    assert sorted(data.classes[y] for _, y in data.samples) == ["cat", "cat", "dog"]


def test_a_file_the_walk_cannot_read_is_left_out_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link to /proc (cat/p -> /proc) ended in a bare PermissionError traceback from
    Path.is_file on /proc/1/cwd (reviewer s53_c6 finding 2), then in a PermissionError that
    refused the whole data set, where a folder the walk cannot list is left out with a warning
    (reviewer s53_FB finding 3): one rule now, the file is left out and named. Simulated, as
    this machine runs as root and chmod does not bite: os.lstat and os.stat refuse one path."""
    root = tmp_path / "photos"
    _images(root, "cat/0.png", "cat/1.png", "dog/2.png")
    locked = str(root / "cat" / "1.png")
    monkeypatch.setattr(os, "lstat", _refusing(os.lstat, lambda p: p == locked))
    monkeypatch.setattr(os, "stat", _refusing(os.stat, lambda p: p == locked))
    with pytest.warns(LeftOutFilesWarning) as got:
        assert sort_files(root / "cat") == ([root / "cat" / "0.png"], [])
    assert [str(w.message) for w in got] == [
        f"left out the entry {locked}: it cannot be read (permission denied); give read access "
        "to it to include it"
    ]
    with pytest.warns(LeftOutFilesWarning, match="left out the entry .*1.png: it cannot be read"):
        data = ImageFolderDataset(root, (1, 8, 8))
    assert [p.relative_to(root).as_posix() for p, _ in data.samples] == ["cat/0.png", "dog/2.png"]


def _refusing(real: Callable[..., object], refused: Callable[[str], bool]) -> object:
    """``real`` (os.stat, os.lstat) raising PermissionError for the paths ``refused`` names."""

    def call(path: object, *args: object, **kwargs: object) -> object:
        if refused(os.fspath(path)):  # type: ignore[call-overload]
            raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[call-overload]
        return real(path, *args, **kwargs)

    return call


def _scandir_refusing(*locked: str) -> object:
    """os.scandir refusing the folders ``locked`` (no read access; root lists any folder)."""
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if os.fspath(path) in locked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    return scandir


def test_a_folder_the_walk_cannot_list_is_left_out_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.walk skipped a folder it could not list (no read access) without a word, so its
    images were lost from the class; then it refused the whole data set (a disk's root-owned
    lost+found, which a user can neither read nor move: reviewer s53_R6 finding 2), naming the
    folder twice when it was the one walked. It is now left out and named once in a warning."""
    root = tmp_path / "photos"
    _images(root, "cat/0.png", "cat/2019/1.png")
    locked = str(root / "cat" / "2019")
    monkeypatch.setattr(os, "scandir", _scandir_refusing(locked))
    with pytest.warns(LeftOutFilesWarning) as got:
        found = find_images(root / "cat")
    assert found == [root / "cat" / "0.png"]
    (note,) = [str(w.message) for w in got]
    assert note.startswith(f"left out the folder {locked}: it cannot be read (permission denied)")
    assert note.count(locked) == 1


def test_a_data_root_with_an_unreadable_lost_and_found_still_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data set at a freshly formatted disk's root holds lost+found (mode 700, root's): it
    was refused as a whole (PermissionError); its classes are read again and the folder it
    cannot list is named, as find_images over the root names it."""
    root = tmp_path / "disk"
    _images(root, "cat/0.png", "cat/1.png", "dog/0.png")
    locked = str(root / "lost+found")
    os.mkdir(locked)
    monkeypatch.setattr(os, "scandir", _scandir_refusing(locked))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        data = ImageFolderDataset(root, (1, 8, 8))
    assert data.classes == ["cat", "dog"] and len(data) == 3
    notes = [str(w.message) for w in got if issubclass(w.category, LeftOutFilesWarning)]
    assert notes == [
        f"left out the folder {locked}: it cannot be read (permission denied); give read access "
        "to it to include its images"
    ]
    with pytest.warns(LeftOutFilesWarning, match="cannot be read"):
        assert len(find_images(root)) == 3


def test_an_unreadable_class_folder_is_not_said_to_hold_no_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A class folder the walk cannot list (one holding an image, and a disk's root-owned
    lost+found) was named twice: as unreadable, and as a class folder that "holds no images
    ... add their images, or remove the folders", false for the one and advice a user cannot
    follow for the other (reviewer s53_RR2 finding 1). Only the unreadable sentence names it;
    a class folder that is readable and empty is still said to hold no images."""
    root = tmp_path / "disk"
    _images(root, "cat/0.png", "dog/0.png", "locked/4.png")
    os.mkdir(root / "lost+found")
    os.mkdir(root / "empty")
    locked = (str(root / "locked"), str(root / "lost+found"))
    monkeypatch.setattr(os, "scandir", _scandir_refusing(*locked))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        data = ImageFolderDataset(root, (1, 8, 8))
    assert data.classes == ["cat", "dog"] and data.empty_folders == ["empty"]
    empty = [str(w.message) for w in got if w.category is EmptyFoldersWarning]
    assert len(empty) == 1 and "empty" in empty[0]
    assert "locked" not in empty[0] and "lost+found" not in empty[0]
    unread = [str(w.message) for w in got if "cannot be read" in str(w.message)]
    assert sorted(unread) == [
        f"left out the folder {folder}: it cannot be read (permission denied); give read "
        "access to it to include its images"
        for folder in locked
    ]


def test_an_unreadable_folder_reached_by_two_routes_is_named_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.walk reports a folder it cannot list on every route to it, so one unreadable folder
    with a link to it (cat/zz -> deep/locked) was counted as two folders (reviewer s53_RR2
    finding 2). It is counted once and named by its first route."""
    root = tmp_path / "photos"
    _images(root, "cat/0.png", "cat/deep/locked/1.png", "dog/0.png", "locked/2.png")
    os.symlink("deep/locked", root / "cat" / "zz")
    os.symlink("locked", root / "alias")
    real = {str(root / "cat" / "deep" / "locked"), str(root / "locked")}
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if os.path.realpath(path) in real:  # refused whichever route leads to it
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.warns(LeftOutFilesWarning) as got:
        assert find_images(root / "cat") == [root / "cat" / "0.png"]
    (note,) = [str(w.message) for w in got]
    assert note.startswith(f"left out the folder {root / 'cat' / 'deep' / 'locked'}: it cannot")
    with pytest.warns(LeftOutFilesWarning, match="left out 2 folders that cannot be read"):
        assert len(find_images(root)) == 2  # cat/0.png, dog/0.png


def test_several_unreadable_folders_are_named_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "photos"
    _images(root, "cat/0.png", "cat/a/1.png", "cat/b/2.png")
    locked = (str(root / "cat" / "a"), str(root / "cat" / "b"))
    monkeypatch.setattr(os, "scandir", _scandir_refusing(*locked))
    with pytest.warns(LeftOutFilesWarning, match="left out 2 folders that cannot be read") as got:
        assert find_images(root / "cat") == [root / "cat" / "0.png"]
    assert all(name in str(got[0].message) for name in locked)


def test_thousands_of_classes_are_listed_in_time_that_grows_with_their_number(
    tmp_path: Path,
) -> None:
    """Each class's walk compared every folder and file link it reached with every other class
    (a realpath and a commonpath each), and the linked-class check every pair: 1,000 classes
    took 130 s to list instead of 0.1 s, a face data set's 10,000 identities hours (reviewer
    s53_R6 finding 1). Listing 2,000 classes now costs a small multiple of a plain os.walk
    of the same folder (about 10x here, for the realpaths and file checks); the pairwise scan
    was thousands of times it."""
    root = tmp_path / "faces"
    for k in range(2000):
        (root / f"id{k:05d}").mkdir(parents=True)
        (root / f"id{k:05d}" / "0.png").touch()  # never decoded: listing only
    walk = min(_timed(lambda: list(os.walk(root, followlinks=True))) for _ in range(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        listing = _timed(lambda: ImageFolderDataset(root, (1, 8, 8)))
    assert listing < 100 * walk, (listing, walk)
    assert len(ImageFolderDataset(root, (1, 8, 8)).classes) == 2000


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


@pytest.mark.parametrize(
    ("link", "target", "kept"),
    [
        ("kitty", "cat", "cat"),  # a second name for a class
        ("acat", "cat", "cat"),  # one that sorts first: the real folder is kept
        ("cat2019", "cat/2019", "cat"),  # a folder inside a class
        ("all", ".", None),  # the data set's folder: every class
    ],
)
def test_a_class_folder_that_is_a_link_to_another_class_is_left_out_and_named(
    tmp_path: Path, link: str, target: str, kept: str | None
) -> None:
    """A class folder that is a link to another class's folder, one inside it, or the data
    set's folder (kitty -> cat, cat2019 -> cat/2019, all -> .) read those images as a class of
    its own too: each counted as two classes without a word. It is now left out and named;
    the classes are what the real folders hold (os.walk of each, the reference)."""
    root = tmp_path / "photos"
    _images(root, "cat/0.png", "cat/2019/1.png", "dog/2.png")
    want = sorted(
        (cls, os.path.relpath(os.path.join(w, f), root))
        for cls in ("cat", "dog")
        for w, _, fs in os.walk(root / cls)
        for f in fs
    )
    os.symlink(target, root / link)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = ImageFolderDataset(root, (1, 8, 8))
    got = sorted((data.classes[y], p.relative_to(root).as_posix()) for p, y in data.samples)
    assert got == want and data.classes == ["cat", "dog"]
    notes = [str(w.message) for w in caught if issubclass(w.category, LeftOutFilesWarning)]
    assert len(notes) == 1, notes
    assert notes[0].startswith(f"left out the class folder {root / link}: it is a link to ")
    if kept is None:
        assert "which holds the data set's folder" in notes[0]
    else:
        assert f"the folder of the class {kept}, and its images would count as two" in notes[0]


def test_of_two_links_to_one_outside_folder_the_first_is_kept(tmp_path: Path) -> None:
    root, archive = tmp_path / "photos", tmp_path / "archive"
    _images(archive, "cat/0.png")
    _images(root, "dog/1.png")
    os.symlink(archive / "cat", root / "cat")
    os.symlink(archive / "cat", root / "kitty")
    with pytest.warns(LeftOutFilesWarning, match="left out the class folder .*kitty: it is a"):
        data = ImageFolderDataset(root, (1, 8, 8))
    assert data.classes == ["cat", "dog"] and len(data) == 2


def test_a_file_link_into_another_class_folder_is_left_out_and_named(tmp_path: Path) -> None:
    """cat/x.png -> ../dog/1.png put one dog photo in both classes without a word, as a folder
    link did; it is left out and named too. A file link to a photo outside the data set is
    read (control)."""
    root, archive = tmp_path / "photos", tmp_path / "archive"
    _images(root, "cat/0.png", "dog/1.png")
    _images(archive, "9.png")
    os.symlink("../dog/1.png", root / "cat" / "x.png")
    os.symlink(archive / "9.png", root / "cat" / "y.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = ImageFolderDataset(root, (1, 8, 8))
    got = sorted((data.classes[y], p.relative_to(root).as_posix()) for p, y in data.samples)
    assert got == [("cat", "cat/0.png"), ("cat", "cat/y.png"), ("dog", "dog/1.png")]
    notes = [str(w.message) for w in caught if issubclass(w.category, LeftOutFilesWarning)]
    assert len(notes) == 1, notes
    assert notes[0].startswith(f"left out the file {root / 'cat' / 'x.png'}: it leads to ")
    assert "the image would count as both classes" in notes[0]
