"""One route for a folder of class folders and its checks (read_class_folders): ``siamkit
enroll FOLDER...``, ``face crop`` and ``face evaluate --identities`` each ran the class walk and
refused loose photos, empty and unusable folders in their own words, and disagreed; a folder
given inside another was refused by enroll alone, not by a library call of walk_classes; the
shared-file sentence called a class lost that another folder given still holds (final35
"Folders" and "Twin")."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import pytest
from click.testing import CliRunner
from PIL import Image

from siamkit.applications.faces.evaluate import read_identities
from siamkit.cli._enroll import group_images
from siamkit.data.folders import (
    ClassFoldersError,
    LeftOutFilesWarning,
    read_class_folders,
    walk_classes,
)

T = TypeVar("T")


def _images(root: Path, *rels: str) -> None:
    for i, rel in enumerate(rels):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8), i).save(root / rel)


def _notes(fn: Callable[..., T], *args: object, **kw: object) -> tuple[T, list[str]]:
    """``fn(*args, **kw)`` and the sentences of the LeftOutFilesWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = fn(*args, **kw)
    return got, [str(w.message) for w in caught if issubclass(w.category, LeftOutFilesWarning)]


def test_walk_classes_refuses_a_folder_given_inside_another_one_given(tmp_path: Path) -> None:
    """``walk_classes([people, people / "alice"])`` (a library call) left people/alice/2019 out
    with a warning that called it a link to another class's folder, which it is not, and
    listed its photo under alice only: only ``siamkit enroll`` refused the two folders. The
    walk refuses them itself now, in either order, worded with the caller's noun; one folder by
    two spellings is one folder (control)."""
    people = tmp_path / "people"
    _images(people, "alice/2019/b.png", "bob/c.png")
    for order in ([people, people / "alice"], [people / "alice", people]):
        with pytest.raises(ClassFoldersError) as err:
            walk_classes(order)
        assert str(err.value) == (
            f"{people / 'alice'} is inside {people}, also given: each of its sub-folders would "
            f"be a class of its own, and its images also of the class alice of {people}; give "
            "only one of the two folders"
        )
        assert err.value.kind == "nested" and isinstance(err.value, ValueError)
        with pytest.raises(ClassFoldersError, match="images also of the person alice of"):
            read_class_folders(order, "person", "photo")
        # enroll's usage error: test_class_walk.py's test_enroll_refuses_a_folder_given_inside_
        # another_one_given (the whole sentence, on these folders)
    walk = walk_classes([people, people / "alice" / ".."])
    assert {d.name: [f.name for f in fs] for d, fs in walk.files.items()} == {
        "alice": ["b.png"],
        "bob": ["c.png"],
    }


def _shared_across(tmp_path: Path, keep: bool) -> tuple[Path, Path]:
    """s1/alice/a.png hard-linked as s2/bob/dup.png; with ``keep``, s2/alice holds b.png too."""
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    _images(s1, "alice/a.png")
    _images(s2, "bob/b0.png", *(["alice/b.png"] if keep else []))
    os.link(s1 / "alice" / "a.png", s2 / "bob" / "dup.png")
    return s1, s2


def test_the_shared_file_sentence_does_not_call_a_class_kept_by_another_folder_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With s1/alice's only photo hard-linked into s2/bob, and s2/alice holding a photo of its
    own, the sentence said "the class folder s1/alice holds no other image, so it is left out",
    which reads as the class alice lost, though s2/alice keeps it (enrolled, trained). It says
    the class keeps its other folder's images now; where no other folder holds the class, the
    class is said to be left out, as before (control). Enroll says the same line, of labels."""
    s1, s2 = _shared_across(tmp_path / "kept", keep=True)
    walk, notes = _notes(walk_classes, [s1, s2])
    assert {str(d.relative_to(d.parents[1])): len(f) for d, f in walk.files.items()} == {
        "s2/alice": 1,
        "s2/bob": 1,
    }
    shared = f"{s1 / 'alice' / 'a.png'} and {s2 / 'bob' / 'dup.png'}"
    head = (
        f"left out the image {shared}: they are one file (hard links, or links to one file) in "
        "several classes, and it counts as no class because it is in several, and the "
    )
    tail = "; keep it in one class's folder only to include it in that class"
    assert notes == [
        f"{head}folder {s1 / 'alice'} holds no other image, though its class keeps the images "
        f"of its folder in another folder given{tail}"
    ]
    capsys.readouterr()
    groups = group_images([str(s1), str(s2)], None)
    as_labels = re.sub(r"\bclass\b", "label", re.sub(r"\bclasses\b", "labels", notes[0]))
    assert capsys.readouterr().err == f"warning: {as_labels}\n"
    assert groups == {"alice": [s2 / "alice" / "b.png"], "bob": [s2 / "bob" / "b0.png"]}
    s1, s2 = _shared_across(tmp_path / "lost", keep=False)
    walk, notes = _notes(walk_classes, [s1, s2])
    assert [d.name for d in walk.files] == ["bob"]
    shared = f"{s1 / 'alice' / 'a.png'} and {s2 / 'bob' / 'dup.png'}"
    assert notes == [
        f"left out the image {shared}: they are one file (hard links, or links to one file) in "
        "several classes, and it counts as no class because it is in several, and the class "
        f"folder {s1 / 'alice'} holds no other image, so it is left out{tail}"
    ]


def test_person_folders_that_are_all_empty_are_named_as_enroll_names_them(
    tmp_path: Path,
) -> None:
    """``face evaluate --identities`` and ``face crop`` of a folder whose every person folder is
    empty said "no images found under people" without naming a folder (and without the
    warning that names them, which comes only with images), where ``siamkit enroll`` names
    each: one route (read_class_folders) now, enroll's kept, as it says what to fix. A folder
    without any sub-folder still gets each command's own sentence (control)."""
    root = tmp_path / "people"
    (root / "ann").mkdir(parents=True)
    (root / "bob").mkdir()
    exts = ".png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp"
    with pytest.raises(ClassFoldersError) as err:
        read_identities(root)
    assert str(err.value) == (
        f"no identity folder of {root} holds photos that can be read and that no other identity "
        f"holds: the identity folders {root / 'ann'}, {root / 'bob'} hold no images ({exts}): "
        "put each identity's photos in its sub-folder"
    )
    from siamkit.cli.main import cli

    res = CliRunner().invoke(cli, ["face", "crop", str(root), str(tmp_path / "chips")])
    assert res.exit_code != 0
    assert f"the person folders {root / 'ann'}, {root / 'bob'} hold no images" in res.output
    with pytest.raises(click.UsageError, match=f"the label folders {root / 'ann'}, "):
        group_images([str(root)], None)
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(ValueError, match=r"^no images found under .*bare \(expected a folder per"):
        read_identities(bare)


def test_a_link_inside_a_label_to_another_folder_given_is_left_out_not_refused(
    tmp_path: Path,
) -> None:
    """s1/alice/more -> ../../s2 with s2 given too: s2's person folders reached through it are
    links into other classes, left out and named as a link into another class is in one folder
    (the data's own rule); only folders given on the command line one inside another are
    refused (they are the user's two answers to one question). Each label keeps its own
    photos; reference: each label folder's real files."""
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    _images(s1, "alice/a.png")
    _images(s2, "bob/b.png", "carol/c.png")
    os.symlink("../../s2", s1 / "alice" / "more")
    walk, notes = _notes(walk_classes, [s1, s2])
    assert {d.name: [f.name for f in fs] for d, fs in walk.files.items()} == {
        "alice": ["a.png"],
        "bob": ["b.png"],
        "carol": ["c.png"],
    }
    assert notes == [
        "left out 2 folders that are links into the folder of another class, e.g. "
        f"{s1 / 'alice' / 'more' / 'bob'}, {s1 / 'alice' / 'more' / 'carol'}: their images would "
        "count as two classes; copy them to include them in both, or remove the links"
    ]


def _unreadable(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    """``folders`` of mode r-- (listed, not entered), simulated: this machine runs as root, so
    chmod does not bite; os.lstat, os.stat and os.scandir refuse what lies below them."""
    below = tuple(str(f) + os.sep for f in folders)

    def refusing(real: Callable[..., object]) -> Callable[..., object]:
        def call(path: object, *args: object, **kwargs: object) -> object:
            if os.fspath(path).startswith(below):  # type: ignore[call-overload]
                raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[call-overload]
            return real(path, *args, **kwargs)

        return call

    for name in ("lstat", "stat", "scandir"):
        monkeypatch.setattr(os, name, refusing(getattr(os, name)))


def test_training_refuses_class_folders_that_count_for_nothing_in_the_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training's ImageFolderDataset (also ``siamkit eval --data FOLDER``, the kNN monitor)
    refused a folder whose class folders all count for nothing in a third wording of its own
    (s56_R2 "left undone"), which said false or half-written things: every image shared by two
    classes, or every class folder unreadable, it said "put each class's images in its
    sub-folder" (they are in it: the fix is one class per image, or read access) and "the
    warnings above say why", which folder_class_images silences; every class folder a link left
    out, it listed "()". It now says read_class_folders' sentence (noun "class"), which names
    each folder with its own reason and fix. Where every image is shared and a third class
    folder holds none ("mixed"), the refusal listed all three as folders "the warnings above
    say why" of, though no warning names the empty one: no warning of the data set names it."""
    from siamkit.data.folders import ImageFolderDataset

    shared = tmp_path / "shared"
    _images(shared, "cat/1.png")
    (shared / "dog").mkdir()
    os.link(shared / "cat" / "1.png", shared / "dog" / "1.png")
    mixed = tmp_path / "mixed"
    _images(mixed, "cat/1.png")
    (mixed / "dog").mkdir()
    (mixed / "eel").mkdir()
    os.link(mixed / "cat" / "1.png", mixed / "dog" / "1.png")
    links = tmp_path / "links"
    links.mkdir()
    os.symlink(".", links / "all")
    unread = tmp_path / "unread"
    _images(unread, "alice/0.png", "bob/1.png")
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    _unreadable(monkeypatch, unread / "alice", unread / "bob")
    said: dict[str, str] = {}
    warned: dict[str, list[str]] = {}  # the data set's warnings
    for root in (shared, mixed, links, unread, empty):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ClassFoldersError) as want:
                read_class_folders(root)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(ClassFoldersError) as got:
                ImageFolderDataset(root, (1, 8, 8))
        assert str(got.value) == str(want.value) and got.value.kind == "none"
        said[root.name] = str(got.value)
        warned[root.name] = [str(w.message) for w in caught]
    # the shared image is named by a warning, the folder without images by none
    assert any(str(mixed / "cat" / "1.png") in note for note in warned["mixed"])
    assert not [note for note in warned["mixed"] if str(mixed / "eel") in note]
    lead = "holds images that can be read and that no other class holds"
    exts = ".png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp"
    assert said == {
        "shared": f"no class folder of {shared} {lead}: every image of the class folders "
        f"{shared / 'cat'}, {shared / 'dog'} is one file in several class folders: keep each "
        "image in its own class's folder only",
        "mixed": f"no class folder of {mixed} {lead}: the class folder {mixed / 'eel'} holds no "
        f"images ({exts}) and every image of the others ({mixed / 'cat'}, {mixed / 'dog'}) is "
        "one file in several class folders: put each class's images in its sub-folder and keep "
        "each image in its own class's folder only",
        "links": f"no class folder of {links} {lead}: the class folder {links / 'all'} is a link "
        "to the data set's folder or one above it, left out as it would read every class's "
        "images again: remove that link and put each class's images in a sub-folder of its own",
        "unread": f"no class folder of {unread} {lead}: none of the class folders could be read "
        f"({unread / 'alice'}, {unread / 'bob'}; permission denied): give read access to them",
        "empty": f"no class folder of {empty} {lead}: the class folders {empty / 'a'}, "
        f"{empty / 'b'} hold no images ({exts}): put each class's images in its sub-folder",
    }
