"""``siamkit face evaluate --identities`` lists its identity folders through training's class walk
(walk_classes): it listed every file under the folder (find_images), so a photo two identities
hold (a hard link) was counted as both, a genuine pair scored as an impostor one, and a link
into another identity's folder read that identity's photos twice, without a word (final reader
s54_FB finding 5). Reference: training's :class:`ImageFolderDataset` of the same folder."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest
from PIL import Image

from siamkit.applications.faces.evaluate import read_identities
from siamkit.data.folders import EmptyFoldersWarning, ImageFolderDataset, LeftOutFilesWarning


def _photos(root: Path, *rels: str) -> None:
    for i, rel in enumerate(rels):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i, 0, 0)).save(root / rel)


def _trained(root: Path) -> tuple[list[Path], list[str], list[str]]:
    """``(paths, identities, warnings)`` as training reads ``root`` as a data set of classes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = ImageFolderDataset(root, (3, 8, 8))
    paths = [p for p, _ in data.samples]
    return paths, [data.classes[y] for _, y in data.samples], [str(w.message) for w in caught]


def test_identities_are_listed_as_training_lists_the_classes(tmp_path: Path) -> None:
    """A hard link of ann's photo in bob's folder, a link from bob into cat's folder and a link
    loop in cat's folder (cat/up -> ..) are left out and named as training leaves them out; an
    identity folder without images is named; the other photos and their order are kept."""
    root = tmp_path / "people"
    _photos(root, "ann/1.png", "ann/2.png", "bob/1.png", "bob/2.png", "cat/1.png", "cat/2.png")
    (root / "dan").mkdir()
    os.link(root / "ann" / "1.png", root / "bob" / "dup.png")
    os.symlink("../cat/1.png", root / "bob" / "cat.png")
    os.symlink("..", root / "cat" / "up")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths, labels = read_identities(root)
    said = [str(w.message) for w in caught]
    trained_paths, trained_labels, trained_said = _trained(root)
    # the same sentences, of identities (training's "class" as the identity walk's noun)
    assert (paths, labels, said) == (trained_paths, trained_labels, _as(trained_said))
    assert [p.relative_to(root).as_posix() for p in paths] == [
        "ann/2.png",
        "bob/1.png",
        "bob/2.png",
        "cat/1.png",
        "cat/2.png",
    ]
    assert labels == ["ann", "bob", "bob", "cat", "cat"]
    kinds = {w.category for w in caught}
    assert kinds == {LeftOutFilesWarning, EmptyFoldersWarning}
    assert len(said) == 4  # the link into cat, the loop, the shared photo, dan without images


def test_a_folder_whose_every_photo_another_identity_holds_is_refused_in_one_sentence(
    tmp_path: Path,
) -> None:
    """Every photo one file in two identities: not "no images found" (the folders hold images),
    but why none counts."""
    root = tmp_path / "people"
    _photos(root, "ann/1.png")
    (root / "bob").mkdir()
    os.link(root / "ann" / "1.png", root / "bob" / "1.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError) as err:
            read_identities(root)
    assert str(err.value) == (
        f"no identity folder of {root} holds photos that can be read and that no other identity "
        f"holds: every photo of the identity folders {root / 'ann'}, {root / 'bob'} is one file "
        "in several identity folders: keep each photo in its own identity's folder only"
    )


def _as(notes: list[str]) -> list[str]:
    """Training's ``notes`` in the identity walk's noun: "class" as "identity", "classes" as
    "identities" (whole words: a tmp path's ``_classes0`` is kept)."""
    return [
        re.sub(r"\bclass\b", "identity", re.sub(r"\bclasses\b", "identities", n)) for n in notes
    ]
