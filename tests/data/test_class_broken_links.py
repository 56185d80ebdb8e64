"""Sub-folders of a data set that are links to nothing (a missing target, a link loop) were
dropped without a word, and training then said "'ds' has no sub-folders; expected one folder
per class", which is untrue (s57_c6): the walk's warning names them, and the refusal says they
are there and what to do."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from _class_links import black_png
from siamkit.data.folders import (
    ClassFoldersError,
    ImageFolderDataset,
    LeftOutFilesWarning,
    images_under,
    list_images,
    read_class_folders,
    walk_classes,
)


def _broken(tmp_path: Path) -> Path:
    """ds/cat -> nowhere (missing) and ds/loop -> loop (a loop): no class folder at all."""
    ds = tmp_path / "ds"
    ds.mkdir()
    os.symlink("nowhere", ds / "cat")
    os.symlink("loop", ds / "loop")
    return ds


def test_training_names_links_to_nothing_not_no_sub_folders(tmp_path):
    ds = _broken(tmp_path)
    with pytest.warns(LeftOutFilesWarning) as got, pytest.raises(ClassFoldersError) as err:
        ImageFolderDataset(ds, (1, 8, 8))
    assert [str(w.message) for w in got] == [
        f"left out 2 links that lead to no folder: {ds / 'cat'} leads to {ds / 'nowhere'}, "
        f"which does not exist; {ds / 'loop'} is a link loop (it leads back to itself): point "
        "them at class folders, or remove them"
    ]
    assert str(err.value) == (
        f"{ds} holds no class folder: {ds / 'cat'}, {ds / 'loop'} are links that lead to no "
        "folder (a missing target, or a link loop): point those links at class folders or "
        "remove them and put each class's images in a sub-folder of its own"
    )
    assert "has no sub-folders" not in str(err.value)


def test_enroll_and_face_readers_name_them_in_their_noun(tmp_path):
    """read_class_folders (enroll, face crop, face evaluate --identities): its "none found"
    sentence ("no images found in ds: expected one sub-folder per label") was as untrue. Its
    warning says the reader's noun too: "point it at a class folder" just above "point that
    link at a label folder" named one folder two ways (s58_c2 item 3)."""
    ds = _broken(tmp_path)
    os.unlink(ds / "loop")
    with pytest.warns(LeftOutFilesWarning) as got, pytest.raises(ClassFoldersError) as err:
        read_class_folders(ds, "label", nothing="nothing to enroll")
    assert [str(w.message) for w in got] == [
        f"left out the link {ds / 'cat'}: it leads to {ds / 'nowhere'}, which does not exist; "
        "point it at a label folder, or remove it"
    ]
    assert str(err.value) == (
        f"nothing to enroll: {ds / 'cat'} is a link that leads to no folder (a missing target, "
        "or a link loop): point that link at a label folder or remove it and put each label's "
        "images in a sub-folder of its own"
    )
    assert err.value.kind == "none"


def test_a_noun_that_begins_with_a_vowel_takes_an(tmp_path):
    """face evaluate --identities' refusal said "point that link at a identity folder" just
    under the walk's "point it at an identity folder" (reviewer s59_r3 finding 3): each
    sentence picks the article of the reader's noun, and "a label folder" is unchanged."""
    ds = tmp_path / "ids"
    ds.mkdir()
    os.symlink("/nowhere/d", ds / "ann")
    with pytest.warns(LeftOutFilesWarning) as got, pytest.raises(ClassFoldersError) as err:
        read_class_folders(ds, "identity", "photo")
    assert [str(w.message) for w in got] == [
        f"left out the link {ds / 'ann'}: it leads to /nowhere/d, which does not exist; point "
        "it at an identity folder, or remove it"
    ]
    assert str(err.value) == (
        f"{ds} holds no identity folder: {ds / 'ann'} is a link that leads to no folder (a "
        "missing target, or a link loop): point that link at an identity folder or remove it "
        "and put each identity's photos in a sub-folder of its own"
    )
    os.symlink("/nowhere/ann.png", ds / "ann.png")
    with pytest.warns(LeftOutFilesWarning), pytest.raises(ClassFoldersError) as err:
        read_class_folders(ds, "identity", "photo")
    assert str(err.value) == (
        f"{ds} holds no identity folder: {ds / 'ann'} is a link that leads to no folder (a "
        f"missing target, or a link loop) and {ds / 'ann.png'} is a link that leads to no "
        "file (a missing target, or a link loop): point the link named as a folder at an "
        "identity folder, restore the target of the link named as a file, or remove them and "
        "put each identity's photos in a sub-folder of its own"
    )
    (ds / "bob" / "2019").mkdir(parents=True)
    black_png(ds / "bob" / "2019" / "0.png")
    with pytest.raises(ClassFoldersError) as err:
        read_class_folders([ds, ds / "bob"], "identity", "photo")
    assert "each of its sub-folders would be an identity of its own" in str(err.value)
    assert err.value.kind == "nested"


def test_beside_an_empty_class_both_are_named(tmp_path):
    ds = _broken(tmp_path)
    (ds / "dog").mkdir()
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")
        read_class_folders(ds, "person", "photo", extensions=(".png",))
    assert str(err.value) == (
        f"no person folder of {ds} holds photos that can be read and that no other person "
        f"holds: the person folder {ds / 'dog'} holds no images (.png) and {ds / 'cat'}, "
        f"{ds / 'loop'} are links that lead to no folder (a missing target, or a link loop): "
        "put each person's photos in its sub-folder and point those links at person folders "
        "or remove them"
    )


def test_a_loop_beside_a_class_with_images_is_named_not_dropped_silently(tmp_path):
    ds = tmp_path / "ds"
    (ds / "dog").mkdir(parents=True)
    black_png(ds / "dog" / "0.png")
    os.symlink("loop", ds / "loop")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk = walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out the link {ds / 'loop'}: it is a link loop (it leads back to itself); point "
        "it at a class folder, or remove it"
    ]
    assert list(walk.files) == [ds / "dog"] and walk.broken == [ds / "loop"]


def test_a_link_named_as_an_image_is_told_to_get_its_target_back(tmp_path):
    """A link to nothing named as an image (ds/cover.png -> a missing USB drive's file) was meant
    as that image, not as a class folder: "point it at a class folder" was wrong advice for it
    (s58_r2 finding 4). A link without such a name keeps its sentence (the tests above)."""
    ds = tmp_path / "ds"
    (ds / "dog").mkdir(parents=True)
    black_png(ds / "dog" / "0.png")
    os.symlink("/media/usb/cover.png", ds / "cover.png")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out the link {ds / 'cover.png'}: it leads to /media/usb/cover.png, which does "
        "not exist; restore its target, or remove it"
    ]
    os.symlink("gone.JPG", ds / "back.JPG")  # any case
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 2 links that lead to no file: {ds / 'back.JPG'} leads to {ds / 'gone.JPG'}, "
        f"which does not exist; {ds / 'cover.png'} leads to /media/usb/cover.png, which does "
        "not exist: restore their targets, or remove them"
    ]
    os.symlink("nowhere", ds / "cat")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 3 links that lead to nothing: {ds / 'back.JPG'} leads to {ds / 'gone.JPG'}, "
        f"which does not exist; {ds / 'cat'} leads to {ds / 'nowhere'}, which does not exist; "
        f"{ds / 'cover.png'} leads to /media/usb/cover.png, which does not exist: point the "
        "link named as a folder at a class folder, restore the targets of the 2 links named as "
        "files, or remove them"
    ]


def test_a_link_named_with_a_listed_extension_is_a_file_too(tmp_path):
    ds = tmp_path / "ds"
    (ds / "dog").mkdir(parents=True)
    (ds / "dog" / "0.raw").write_bytes(b"x")
    os.symlink("gone.raw", ds / "extra.raw")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds, extensions=(".raw",))
    assert [str(w.message) for w in got] == [
        f"left out the link {ds / 'extra.raw'}: it leads to {ds / 'gone.raw'}, which does not "
        "exist; restore its target, or remove it"
    ]


def test_the_refusal_gives_a_link_named_as_an_image_the_warnings_advice(tmp_path):
    """The refusal that follows the warning told a link named as an image "point that link at a
    class folder" while the warning just said "restore its target" (s58_FA Q1): both now say
    "restore", and a mix is told both."""
    ds = tmp_path / "ds"
    ds.mkdir()
    os.symlink("/media/usb/cover.png", ds / "cover.png")
    with pytest.warns(LeftOutFilesWarning), pytest.raises(ClassFoldersError) as got:
        ImageFolderDataset(ds, (3, 8, 8))
    assert str(got.value) == (
        f"{ds} holds no class folder: {ds / 'cover.png'} is a link that leads to no file (a "
        "missing target, or a link loop): restore its target or remove it and put each "
        "class's images in a sub-folder of its own"
    )
    os.symlink("/media/usb/cats", ds / "cats")
    with pytest.warns(LeftOutFilesWarning), pytest.raises(ClassFoldersError) as got:
        ImageFolderDataset(ds, (3, 8, 8))
    assert str(got.value) == (
        f"{ds} holds no class folder: {ds / 'cats'} is a link that leads to no folder (a "
        f"missing target, or a link loop) and {ds / 'cover.png'} is a link that leads to no "
        "file (a missing target, or a link loop): point the link named as a folder at a class "
        "folder, restore the target of the link named as a file, or remove them and put each "
        "class's images in a sub-folder of its own"
    )


def _dead_links(tmp_path: Path) -> Path:
    """cat: 0.png, 1.png, 2.png -> a missing file, loop -> loop; dog: 0.png, 1.png, more -> a
    missing folder (an unmounted drive)."""
    ds = tmp_path / "ds"
    for name in ("cat", "dog"):
        for i in range(2):
            (ds / name).mkdir(parents=True, exist_ok=True)
            black_png(ds / name / f"{i}.png")
    os.symlink("/media/usb/2.png", ds / "cat" / "2.png")
    os.symlink("loop", ds / "cat" / "loop")
    os.symlink("/media/usb/sub", ds / "dog" / "more")
    return ds


def test_links_to_nothing_inside_a_class_folder_are_named(tmp_path):
    """A class's image (or sub-folder) that is a link to nothing was dropped without a word,
    one level below the root's links that are named (s58_FA Q2): 2 photos of 12 lost without a
    word change what is measured."""
    ds = _dead_links(tmp_path)
    with pytest.warns(LeftOutFilesWarning) as got:
        data = ImageFolderDataset(ds, (3, 8, 8))
    assert len(data) == 4 and data.classes == ["cat", "dog"]
    assert [str(w.message) for w in got] == [
        f"left out 2 links that lead to nothing: {ds / 'cat' / '2.png'} leads to "
        f"/media/usb/2.png, which does not exist; {ds / 'cat' / 'loop'} is a link loop (it "
        "leads back to itself): restore their targets, or remove them",
        f"left out the link {ds / 'dog' / 'more'}: it leads to /media/usb/sub, which does not "
        "exist; restore its target, or remove it",
    ]


def test_links_to_nothing_in_a_folder_of_loose_images_are_named(tmp_path):
    """The walks of a folder of unlabeled images (task: ssl's images_under, and list_images)
    dropped a link to nothing without a word too (s58_FA Q2)."""
    loose = tmp_path / "loose"
    loose.mkdir()
    black_png(loose / "0.png")
    os.symlink("/media/usb/1.png", loose / "1.png")
    said = (
        f"left out the link {loose / '1.png'}: it leads to /media/usb/1.png, which does not "
        "exist; restore its target, or remove it"
    )
    with pytest.warns(LeftOutFilesWarning) as got:
        assert images_under(loose, "data.root") == [loose / "0.png"]
    assert [str(w.message) for w in got] == [said]
    with pytest.warns(LeftOutFilesWarning) as got:
        assert list_images(loose) == [loose / "0.png"]
    assert [str(w.message) for w in got] == [said]


def test_several_links_to_nothing_are_each_told_their_target(tmp_path):
    """``ds/a/x.png -> ../../nowhere/x.png``, ``ds/a/y.png -> ../../elsewhere/y.png``: one such
    link is told "it leads to T/nowhere/x.png, which does not exist", while several were told
    "e.g. ds/a/x.png, ds/a/y.png", naming no target (s61_FA finding 4). Each of the first
    SHOWN_LINKS is told what it leads to, then how many more."""
    ds = tmp_path / "ds"
    for name in ("a", "b"):
        for i in range(2):
            (ds / name).mkdir(parents=True, exist_ok=True)
            black_png(ds / name / f"{i}.png")
    os.symlink("../../nowhere/x.png", ds / "a" / "x.png")
    os.symlink("../../elsewhere/y.png", ds / "a" / "y.png")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 2 links that lead to nothing: {ds / 'a' / 'x.png'} leads to "
        f"{tmp_path / 'nowhere' / 'x.png'}, which does not exist; {ds / 'a' / 'y.png'} leads to "
        f"{tmp_path / 'elsewhere' / 'y.png'}, which does not exist: restore their targets, or "
        "remove them"
    ]
    for name in ("z1.png", "z2.png", "z3.png"):
        os.symlink(f"gone-{name}", ds / "a" / name)
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 5 links that lead to nothing: {ds / 'a' / 'x.png'} leads to "
        f"{tmp_path / 'nowhere' / 'x.png'}, which does not exist; {ds / 'a' / 'y.png'} leads to "
        f"{tmp_path / 'elsewhere' / 'y.png'}, which does not exist; {ds / 'a' / 'z1.png'} leads "
        f"to {ds / 'a' / 'gone-z1.png'}, which does not exist; and 2 more links: restore their "
        "targets, or remove them"
    ]


def test_over_a_thousand_links_to_nothing_are_counted_alike(tmp_path):
    """1,003 links to nothing read "left out 1003 links ... and 1,000 more links": the total
    lacked the thousands separator its own tail had (s61_LR finding 2)."""
    ds = tmp_path / "ds"
    for name in ("a", "b"):
        for i in range(2):
            (ds / name).mkdir(parents=True, exist_ok=True)
            black_png(ds / name / f"{i}.png")
    for i in range(1003):
        os.symlink(f"gone-{i}.png", ds / "a" / f"x{i:04d}.png")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    (said,) = [str(w.message) for w in got]
    assert said.startswith("left out 1,003 links that lead to nothing: ")
    assert said.endswith("; and 1,000 more links: restore their targets, or remove them")
