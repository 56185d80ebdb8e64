"""A folder whose every class sub-folder is a link the class walk leaves out (``all -> .``,
``up -> ..``: each would read every class's images again) was refused as "no images found in X:
expected one sub-folder per class", which is untrue: there are sub-folders, and they were left
out. The refusal names them, says why and what to do, in each reader's own noun."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _class_links import black_png, links_only
from siamkit.data.folders import ClassFoldersError, read_class_folders


def _links_sentence(ds: Path, noun: str, photo: str) -> str:
    return (
        f"no {noun} folder of {ds} holds {photo}s that can be read and that no other {noun} "
        f"holds: the {noun} folders {ds / 'all'}, {ds / 'up'} are links to the data set's folder "
        f"or one above it, left out as each would read every {noun}'s {photo}s again: remove "
        f"those links and put each {noun}'s {photo}s in a sub-folder of its own"
    )


@pytest.mark.parametrize(("noun", "photo"), [("label", "image"), ("person", "photo")])
def test_read_class_folders_names_the_links_it_left_out(tmp_path, noun, photo):
    """Several links, in each noun (the noun "class", one link, and training's
    ImageFolderDataset: test_class_folders_checks.py's "links" case)."""
    ds = links_only(tmp_path)
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")  # the walk's own warning names them too
        read_class_folders(ds, noun, photo, none_found="no images found in ds")
    assert str(err.value) == _links_sentence(ds, noun, photo)
    assert err.value.kind == "none"


def test_a_link_to_an_empty_class_is_named_beside_it(tmp_path):
    """``kitty -> cat`` with cat empty: it was refused as "the class folder ds/cat holds no
    images" alone, which hid kitty; both are named, each with its fix."""
    ds = tmp_path / "ds"
    (ds / "cat").mkdir(parents=True)
    os.symlink("cat", ds / "kitty")
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")
        read_class_folders(ds, "person", "photo", extensions=(".png",))
    assert str(err.value) == (
        f"no person folder of {ds} holds photos that can be read and that no other person "
        f"holds: the person folder {ds / 'cat'} holds no images (.png) and the person folder "
        f"{ds / 'kitty'} is a link to another person's folder or one inside it, which holds no "
        "photos: put each person's photos in its sub-folder and give each linked person a "
        "folder of its own"  # cat holds none: not "(copy its photos into it)", nor "count as two"
    )


def test_a_mix_of_both_link_kinds_and_an_empty_class_gives_each_fix_once(tmp_path):
    """cat empty, ``all -> .`` and ``kitty -> cat`` (reviewer s57_r6 finding 2): the fix list
    said "put each class's images in its sub-folder" and "... in a sub-folder of its own" both,
    "remove that link" beside two links, and told the user to copy kitty's images, which it
    has none of (cat is empty). Each fix is said once, the link to remove is named by its kind;
    a link into a class whose images are shared keeps "copy" (control)."""
    ds = tmp_path / "ds"
    (ds / "cat").mkdir(parents=True)
    os.symlink(".", ds / "all")
    os.symlink("cat", ds / "kitty")
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")
        read_class_folders(ds, "class", "image", extensions=(".png",))
    assert str(err.value) == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"the class folder {ds / 'cat'} holds no images (.png), the class folder {ds / 'all'} is "
        "a link to the data set's folder or one above it, left out as it would read every "
        f"class's images again and the class folder {ds / 'kitty'} is a link to another "
        "class's folder or one inside it, which holds no images: "
        "put each class's images in its sub-folder, remove the link to the data set's folder "
        "and give each linked class a folder of its own"
    )
    os.unlink(ds / "kitty")  # an empty class and all -> .: where the images go is said once
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")
        read_class_folders(ds, "class", "image", extensions=(".png",))
    assert str(err.value).endswith(
        ": put each class's images in its sub-folder and remove that link"
    )
    os.unlink(ds / "all")  # control: kitty -> cat, whose one image is dog's too
    black_png(ds / "cat" / "0.png")
    (ds / "dog").mkdir()
    os.link(ds / "cat" / "0.png", ds / "dog" / "0.png")
    os.symlink("cat", ds / "kitty")
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")
        read_class_folders(ds, "class", "image", extensions=(".png",))
    assert str(err.value).endswith(
        ": keep each image in its own class's folder only and give each linked class a folder "
        "of its own (copy its images into it)"
    )


def test_the_walks_warning_on_links_to_the_data_set_says_to_remove_them(tmp_path):
    """The warning beside the refusal advised "copy them to include them in both, or remove
    the link(s)" of ``all -> .`` and ``up -> ..``, which hold every class, not one other: a
    copy "in both" means nothing there. It says what they would read and to remove them; a
    link to one other class keeps its advice (control)."""
    from siamkit.data.folders import LeftOutFilesWarning, walk_classes

    ds = links_only(tmp_path)
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 2 class folders that are links to the data set's folder or one above it, "
        f"e.g. {ds / 'all'}, {ds / 'up'}: each would read every class's images again; remove "
        "the links"
    ]
    os.unlink(ds / "up")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out the class folder {ds / 'all'}: it is a link to {os.path.realpath(ds)}, which "
        "holds the data set's folder (every class's), so it would read every class's images "
        "again; remove the link"
    ]
    (ds / "cat").mkdir()
    black_png(ds / "cat" / "0.png")
    os.unlink(ds / "all")
    os.symlink("cat", ds / "kitty")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out the class folder {ds / 'kitty'}: it is a link to {os.path.realpath(ds / 'cat')}"
        ", which is or is inside the folder of the class cat, and its images would count as two "
        "classes; copy them to include them in both, or remove the link"
    ]
    # a mix of both kinds: each with its own advice (it said "copy them to include them in
    # both" of all -> . too, beside kitty's; no refusal follows, cat holds an image)
    os.symlink(".", ds / "all")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 2 class folders that are links: {ds / 'all'} is a link to the data set's "
        "folder or one above it, which would read every class's images again: remove that "
        f"link; and {ds / 'kitty'} is a link to another class's folder or one inside it, whose "
        "images would count as two classes: copy them to include them in both, or remove that "
        "link"
    ]
    os.symlink("cat", ds / "puss")
    os.symlink("..", ds / "up")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 4 class folders that are links: {ds / 'all'}, {ds / 'up'} are links to the "
        "data set's folder or one above it, which would read every class's images again: "
        f"remove those links; and {ds / 'kitty'}, {ds / 'puss'} are links to another class's "
        "folder or one inside it, whose images would count as two classes: copy them to include "
        "them in both, or remove those links"
    ]
    os.unlink(ds / "all")
    os.unlink(ds / "up")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 2 class folders that are links to another class's folder or one inside it, "
        f"e.g. {ds / 'kitty'}, {ds / 'puss'}: their images would count as two classes; copy them "
        "to include them in both, or remove the links"
    ]


def test_the_walks_warning_on_a_link_to_an_empty_class_says_to_remove_it(tmp_path):
    """``kitty -> cat`` with cat empty, beside a dog with images: the warning told the user to
    "copy them to include them in both" and that its images "would count as two classes", of a
    class with no images, while the refusal said otherwise (s57_FB Q3). It was said before the
    walk knew which classes are empty; now after. ``ds3``: two such links."""
    from siamkit.data.folders import LeftOutFilesWarning

    ds = tmp_path / "ds"
    (ds / "cat").mkdir(parents=True)
    (ds / "dog").mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(ds / "dog" / f"{i}.png")
    os.symlink("cat", ds / "kitty")
    with pytest.warns(Warning) as got:
        read_class_folders(ds)
    links = [str(w.message) for w in got if issubclass(w.category, LeftOutFilesWarning)]
    assert links == [
        f"left out the class folder {ds / 'kitty'}: it is a link to {os.path.realpath(ds / 'cat')}"
        ", which is or is inside the folder of the class cat, which holds no images; remove the "
        "link"
    ]
    ds3 = tmp_path / "ds3"
    (ds3 / "cat").mkdir(parents=True)
    (ds3 / "dog").mkdir()
    os.symlink("cat", ds3 / "kitty")
    os.symlink("dog", ds3 / "puppy")
    with pytest.warns(LeftOutFilesWarning) as got, pytest.raises(ClassFoldersError) as err:
        read_class_folders(ds3)
    note = [str(w.message) for w in got if issubclass(w.category, LeftOutFilesWarning)]
    assert note == [
        "left out 2 class folders that are links to another class's folder or one inside it "
        f"that holds no images, e.g. {ds3 / 'kitty'}, {ds3 / 'puppy'}: remove the links"
    ]
    assert "count as two" not in str(err.value) and "copy" not in str(err.value)


def test_links_into_an_empty_class_and_one_with_images_are_each_worded_by_their_class(tmp_path):
    """``kitty -> cat`` (empty) beside ``puppy -> dog`` (images): the several-links warning told
    both to "copy them to include them in both" as their images "would count as two classes",
    which cat has none of (s57_mfb Q3: only links all into empty classes were worded so). Each
    link is now named with what its class holds; with ``all -> .`` too, each of three kinds."""
    from siamkit.data.folders import LeftOutFilesWarning, walk_classes

    ds = tmp_path / "ds"
    (ds / "cat").mkdir(parents=True)
    (ds / "dog").mkdir()
    black_png(ds / "dog" / "0.png")
    os.symlink("cat", ds / "kitty")
    os.symlink("dog", ds / "puppy")
    into = (
        f"{ds / 'puppy'} is a link to another class's folder or one inside it, whose images "
        "would count as two classes: copy them to include them in both, or remove that link"
    )
    hollow = (
        f"{ds / 'kitty'} is a link to another class's folder or one inside it, which holds no "
        "images: remove that link"
    )
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 2 class folders that are links: {into}; and {hollow}"
    ]
    os.symlink(".", ds / "all")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk_classes(ds)
    assert [str(w.message) for w in got] == [
        f"left out 3 class folders that are links: {ds / 'all'} is a link to the data set's "
        "folder or one above it, which would read every class's images again: remove that "
        f"link; {into}; and {hollow}"
    ]


def test_a_link_into_an_empty_class_beside_one_into_a_shared_class_is_worded_by_its_own(tmp_path):
    """``kitty -> cat`` (empty) beside ``puppy -> dog``, whose one image fox holds too (a hard
    link), so no class is left: the refusal said of both links "left out as their images would
    count as two classes" and "copy its images into it", untrue of kitty (its copy test looked
    at the empty classes only: s58_c2 noticed). Each is now worded by what its class holds, and
    given its own fix, as the walk's warning words them."""
    ds = tmp_path / "ds"
    for name in ("cat", "dog", "fox"):
        (ds / name).mkdir(parents=True)
    black_png(ds / "dog" / "0.png")
    os.link(ds / "dog" / "0.png", ds / "fox" / "0.png")
    os.symlink("cat", ds / "kitty")
    os.symlink("dog", ds / "puppy")
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")  # the walk's own warnings name them too
        read_class_folders(ds, "class", "image", extensions=(".png",))
    assert str(err.value) == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"the class folder {ds / 'cat'} holds no images (.png), every image of the others "
        f"({ds / 'dog'}, {ds / 'fox'}) is one file in several class folders, the class folder "
        f"{ds / 'puppy'} is a link to another class's folder or one inside it, left out as its "
        f"images would count as two classes and the class folder {ds / 'kitty'} is a link to "
        "another class's folder or one inside it, which holds no images: put each class's "
        "images in its sub-folder, keep each image in its own class's folder only, give each "
        "linked class with images a folder of its own (copy its images into it) and remove "
        "the link into a class folder without images"
    )


def test_a_link_into_an_empty_sub_folder_of_a_class_with_images_holds_no_images(tmp_path):
    """``kitty -> dog/sub``, sub empty, dog with an image (fox holds it too, so no class is
    left): the warning and the refusal said kitty's "images would count as two classes" and to
    "copy its images into it", as the test looked at dog (which holds images), not at what the
    link leads to (s60_r6 finding 2). Both now say it holds no images. ``puppy -> dog`` beside
    it keeps its own wording; a link into a sub-folder with an image (``ds2``) too."""
    from siamkit.data.folders import LeftOutFilesWarning

    ds = tmp_path / "ds"
    for name in ("dog/sub", "fox"):
        (ds / name).mkdir(parents=True)
    black_png(ds / "dog" / "0.png")
    os.link(ds / "dog" / "0.png", ds / "fox" / "0.png")
    os.symlink(os.path.join("dog", "sub"), ds / "kitty")
    shared = (
        f"every image of the class folders {ds / 'dog'}, {ds / 'fox'} is one file in several "
        "class folders"
    )
    with pytest.warns(Warning) as got, pytest.raises(ClassFoldersError) as err:
        read_class_folders(ds, "class", "image", extensions=(".png",))
    links = [str(w.message) for w in got if "left out the class folder" in str(w.message)]
    assert links == [
        f"left out the class folder {ds / 'kitty'}: it is a link to "
        f"{os.path.realpath(ds / 'dog' / 'sub')}, which is or is inside the folder of the class "
        "dog but holds none of its images; remove the link"
    ]
    assert str(err.value) == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"{shared} and the class folder {ds / 'kitty'} is a link to another class's folder or "
        "one inside it, which holds no images: keep each image in its own class's folder only "
        "and give each linked class a folder of its own"
    )
    os.symlink("dog", ds / "puppy")
    with warnings.catch_warnings(), pytest.raises(ClassFoldersError) as err:
        warnings.simplefilter("ignore")
        read_class_folders(ds, "class", "image", extensions=(".png",))
    assert str(err.value) == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"{shared}, the class folder {ds / 'puppy'} is a link to another class's folder or one "
        "inside it, left out as its images would count as two classes and the class folder "
        f"{ds / 'kitty'} is a link to another class's folder or one inside it, which holds no "
        "images: keep each image in its own class's folder only, give each linked class with "
        "images a folder of its own (copy its images into it) and remove the link to a folder "
        "without images"
    )
    ds2 = tmp_path / "ds2"
    (ds2 / "dog" / "sub").mkdir(parents=True)
    black_png(ds2 / "dog" / "sub" / "0.png")
    os.symlink(os.path.join("dog", "sub"), ds2 / "kitty")
    with pytest.warns(LeftOutFilesWarning) as got:
        read_class_folders(ds2, "class", "image", extensions=(".png",))
    assert [str(w.message) for w in got] == [
        f"left out the class folder {ds2 / 'kitty'}: it is a link to "
        f"{os.path.realpath(ds2 / 'dog' / 'sub')}, which is or is inside the folder of the class "
        "dog, and its images would count as two classes; copy them to include them in both, or "
        "remove the link"
    ]


def _scandir_refusing(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    """os.scandir refuses ``folders`` (by their real path, whichever route leads there), as the
    kernel refuses another user's 0700 folder: this machine runs as root, so chmod does not
    bite and the refusal is simulated."""
    refused = {os.path.realpath(f) for f in folders}
    real = os.scandir

    def scandir(path: object = ".") -> object:
        if os.path.realpath(os.fspath(path)) in refused:  # type: ignore[call-overload]
            raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[call-overload]
        return real(path)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", scandir)


def test_a_link_into_a_class_that_cannot_be_read_is_not_said_to_count_as_two(tmp_path, monkeypatch):
    """``kitty -> cat``, cat another user's folder: the walk lists none of cat's images, so
    whether kitty's would count as two classes cannot be known, yet the warning said "its
    images would count as two classes; copy them" and the refusal "left out as its images would
    count as two classes ... (copy its images into it)" (s60_c6 noticed). Both say it is not
    known. So of ``tabby -> dog/sub``, sub holding a folder that cannot be read beside dog's
    image, which was said to hold "none of its images". ``puppy -> cat/open``, a folder without
    images that the walk read all of, in a class with a folder it cannot read, holds none."""
    from siamkit.data.folders import LeftOutFilesWarning

    ds = tmp_path / "ds"
    (ds / "cat").mkdir(parents=True)
    (ds / "dog" / "sub" / "locked").mkdir(parents=True)
    black_png(ds / "dog" / "0.png")
    black_png(ds / "cat" / "1.png")  # never listed: cat cannot be read
    os.symlink("cat", ds / "kitty")
    os.symlink(os.path.join("dog", "sub"), ds / "tabby")
    _scandir_refusing(monkeypatch, ds / "cat", ds / "dog" / "sub" / "locked")
    with pytest.warns(LeftOutFilesWarning) as got:
        read_class_folders(ds, "class", "image", extensions=(".png",))
    assert [str(w.message) for w in got if "class folder" in str(w.message)] == [
        "left out 2 class folders that are links to another class's folder or one inside it "
        f"that cannot all be read, e.g. {ds / 'kitty'}, {ds / 'tabby'}: whether any images "
        "would count as two classes is not known; copy any images to include them in both, or "
        "remove the links"
    ]
    unknown = "cannot all be read, so whether any images would count as two classes is not known"
    os.unlink(ds / "tabby")
    with pytest.warns(LeftOutFilesWarning) as got:
        read_class_folders(ds, "class", "image", extensions=(".png",))
    assert [str(w.message) for w in got if "class folder" in str(w.message)] == [
        f"left out the class folder {ds / 'kitty'}: it is a link to "
        f"{os.path.realpath(ds / 'cat')}, which is or is inside the folder of the class cat and "
        f"{unknown}; copy any images to include them in both, or remove the link"
    ]
    r = tmp_path / "r"
    (r / "cat" / "open").mkdir(parents=True)
    (r / "cat" / "locked").mkdir()
    os.symlink("cat", r / "kitty")
    os.symlink(os.path.join("cat", "open"), r / "puppy")
    _scandir_refusing(monkeypatch, r / "cat" / "locked")
    with pytest.warns(LeftOutFilesWarning) as got, pytest.raises(ClassFoldersError) as err:
        read_class_folders(r, "class", "image", extensions=(".png",))
    assert [str(w.message) for w in got if "class folder" in str(w.message)] == [
        f"left out 2 class folders that are links: {r / 'puppy'} is a link to another class's "
        "folder or one inside it, which holds no images: remove that link; and "
        f"{r / 'kitty'} is a link to another class's folder or one inside it that cannot all be "
        "read, so whether any images would count as two classes is not known: copy any images "
        "to include them in both, or remove that link"
    ]
    assert str(err.value) == (
        f"no class folder of {r} holds images that can be read and that no other class holds: "
        f"the class folder {r / 'cat'} cannot be read (permission denied), the class folder "
        f"{r / 'puppy'} is a link to another class's folder or one inside it, which holds no "
        f"images and the class folder {r / 'kitty'} is a link to another class's folder or one "
        f"inside it, which {unknown}: give read access to the unread ones, give each linked "
        "class with images a folder of its own (copy its images into it) and remove the link "
        "to a folder without images"
    )


def test_a_link_into_a_class_whose_images_lie_beyond_a_folder_link_holds_them(tmp_path):
    """``kitty -> cat``, cat's one image reached through ``cat/far -> ../../elsewhere``: kitty
    reads it too, yet was said to be "inside the folder of the class cat but holds none of its
    images", as the test compared real paths only (elsewhere/ is not below cat/)."""
    from siamkit.data.folders import LeftOutFilesWarning, walk_classes

    ds = tmp_path / "ds"
    for folder in (ds / "cat", ds / "dog", tmp_path / "elsewhere"):
        folder.mkdir(parents=True)
    black_png(ds / "dog" / "0.png")
    black_png(tmp_path / "elsewhere" / "1.png")
    os.symlink(os.path.join("..", "..", "elsewhere"), ds / "cat" / "far")
    os.symlink("cat", ds / "kitty")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk = walk_classes(ds, (".png",))
    assert [str(w.message) for w in got] == [
        f"left out the class folder {ds / 'kitty'}: it is a link to "
        f"{os.path.realpath(ds / 'cat')}, which is or is inside the folder of the class cat, "
        "and its images would count as two classes; copy them to include them in both, or "
        "remove the link"
    ]
    assert walk.files[ds / "cat"] == [ds / "cat" / "far" / "1.png"]


def test_a_link_into_a_class_reading_a_folder_the_walk_reached_first_elsewhere_holds_it(
    tmp_path,
):
    """``cat/a -> elsewhere`` and ``cat/sub/l -> elsewhere``: the walk lists elsewhere's image
    once, as ``cat/a/1.png``; ``kitty -> cat/sub`` reads it as ``kitty/l/1.png``, yet was said
    to hold "none of its images", as neither its route (cat/sub/) nor its real path holds
    ``cat/a/1.png`` (s61_r6 finding 4)."""
    from siamkit.data.folders import LeftOutFilesWarning, walk_classes

    ds, elsewhere = tmp_path / "ds", tmp_path / "elsewhere"
    for folder in (ds / "cat" / "sub", ds / "dog", elsewhere):
        folder.mkdir(parents=True)
    black_png(ds / "dog" / "0.png")
    black_png(elsewhere / "1.png")
    os.symlink(elsewhere, ds / "cat" / "a")
    os.symlink(elsewhere, ds / "cat" / "sub" / "l")
    os.symlink(ds / "cat" / "sub", ds / "kitty")
    with pytest.warns(LeftOutFilesWarning) as got:
        walk = walk_classes(ds, (".png",))
    assert [str(w.message) for w in got] == [
        f"left out the class folder {ds / 'kitty'}: it is a link to {ds / 'cat' / 'sub'}, which "
        "is or is inside the folder of the class cat, and its images would count as two "
        "classes; copy them to include them in both, or remove the link"
    ]
    assert walk.files[ds / "cat"] == [ds / "cat" / "a" / "1.png"]
    assert walk.hollow == [] and walk.unknown == []


def test_links_into_a_class_look_up_its_images_real_paths_once_not_once_per_link(
    tmp_path, monkeypatch
):
    """Each link into a class that holds none of its images worked out the real path of every
    image of the class (and of its folder) again: O(links x images) lookups, 208 s for 200
    links into a 20,000-image class (s61_LR finding 1). Now once per class: an extra link
    costs its own lookups, not the class's size. The warning is the same either way."""
    from siamkit.data.folders import LeftOutFilesWarning, walk_classes

    def walked(links: int) -> tuple[int, list[str]]:
        ds = tmp_path / f"ds{links}"
        (ds / "cat" / "sub").mkdir(parents=True)
        (ds / "dog").mkdir()
        for i in range(200):
            (ds / "cat" / f"{i}.png").touch()
        (ds / "dog" / "0.png").touch()
        (ds / "cat" / "sub" / "readme.txt").touch()
        for i in range(links):
            os.symlink(ds / "cat" / "sub", ds / f"k{i:02d}")
        calls = 0
        realpath = os.path.realpath

        def counting(path, *args, **kwargs):
            nonlocal calls
            calls += 1
            return realpath(path, *args, **kwargs)

        with monkeypatch.context() as m, pytest.warns(LeftOutFilesWarning) as got:
            m.setattr(os.path, "realpath", counting)
            walk = walk_classes(ds, (".png",))
        assert len(walk.hollow) == links
        return calls, [str(w.message).replace(str(ds), "ds") for w in got]

    (two, said_two), (twenty, said_twenty) = walked(2), walked(20)
    assert (twenty - two) / 18 < 20, (two, twenty)  # per link: its own, not the class's 200
    assert said_twenty == [
        "left out 20 class folders that are links to another class's folder or one inside it "
        "that holds no images, e.g. ds/k00, ds/k01: remove the links"
    ], said_twenty
    assert said_two[0].startswith("left out 2 class folders that are links to another ")
