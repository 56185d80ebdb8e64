"""Tests for the on-disk datasets, on small generated fixtures."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.data.folders import (
    EmptyFoldersWarning,
    ImageFolderDataset,
    LeftOutFilesWarning,
    OmniglotDataset,
    empty_folders_note,
)
from siamkit.data.image_io import ImageReadError, load_images
from siamkit.data.pairs_csv import PairsCSVDataset, read_pairs_csv
from siamkit.data.signatures import SignatureDataset, scan_signatures


def _write_png(path: Path, value: int, size: tuple[int, int] = (12, 10), mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    Image.fromarray(np.full(shape, value, dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def folder_tree(tmp_path: Path) -> Path:
    root = tmp_path / "folders"
    for c, cls in enumerate(["dog", "cat", "emu"]):
        for i in range(c + 1):
            _write_png(root / cls / f"{i}.png", 40 * c + i, mode="RGB")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".hidden.png").write_bytes(b"")
    (root / "empty_class").mkdir()
    return root


def test_image_folder(folder_tree):
    with pytest.warns(EmptyFoldersWarning, match="empty_class holds no images"):
        ds = ImageFolderDataset(folder_tree, (3, 6, 5))
    assert ds.classes == ["cat", "dog", "emu"]  # sorted; empty folder dropped
    assert len(ds) == 6
    counts = torch.bincount(ds.labels).tolist()
    assert counts == [2, 1, 3]
    image, label = ds[0]
    assert image.shape == (3, 6, 5) and ds.classes[label] == "cat"
    torch.testing.assert_close(image, torch.full((3, 6, 5), 40 / 255))
    images, labels = ds.load_all()
    assert images.shape == (6, 3, 6, 5) and torch.equal(labels, ds.labels)
    assert ds.class_to_idx["emu"] == 2


def test_image_folder_reads_a_class_s_nested_folders(tmp_path):
    """An image in a folder below its class folder is that class's, as enroll and embed read
    it; a class with all its images one level down is a class (it was silently dropped)."""
    root = tmp_path / "photos"
    _write_png(root / "boot" / "a.png", 10)
    _write_png(root / "boot" / "2019" / "b.PNG", 20)
    _write_png(root / "sandal" / "2020" / "c.png", 30)
    _write_png(root / "sandal" / ".thumbs" / "d.png", 40)  # hidden: skipped
    ds = ImageFolderDataset(root, (1, 4, 4))
    assert ds.classes == ["boot", "sandal"]
    assert [p.name for p, _ in ds.samples] == ["b.PNG", "a.png", "c.png"]
    assert ds.labels.tolist() == [0, 0, 1]


def test_image_folder_names_the_class_folders_it_leaves_out_for_holding_no_images(folder_tree):
    """A class folder without images was skipped without a word: the user lost a class."""
    (folder_tree / "zebu" / "2019").mkdir(parents=True)
    (folder_tree / "zebu" / "notes.txt").write_text("not an image")
    with pytest.warns(EmptyFoldersWarning) as caught:
        ds = ImageFolderDataset(folder_tree, (1, 4, 4))
    assert ds.classes == ["cat", "dog", "emu"] and ds.empty_folders == ["empty_class", "zebu"]
    # cat's notes.txt is named as left out (zebu's is its folder's warning's: "holds no images")
    assert ds.left_out == [folder_tree / "cat" / "notes.txt"]
    assert [str(w.message) for w in caught] == [
        f"2 class folders of {folder_tree} hold no images (.png, .jpg, .jpeg, .bmp, .gif, .tif, "
        ".tiff, .webp) and are left out (empty_class, zebu): add their images, or remove the "
        "folders",
        "left out 1 file that is not an image by its extension, "
        f"{folder_tree / 'cat' / 'notes.txt'}: give it an extension (.png, .jpg) to include it if "
        "it is an image",
    ]
    assert empty_folders_note("photos", ["boot"], extensions=[".png"]) == (
        "the class folder photos/boot holds no images (.png) and is left out: add its images, "
        "or remove the folder"
    )
    with pytest.raises(
        ValueError,
        match=r"the class folders .*/cat, .*/dog, .*/empty_class, .*/emu, .*/zebu hold no images "
        r"\(\.jpg\): put",
    ):
        ImageFolderDataset(folder_tree, (1, 4, 4), extensions=[".jpg"])


def test_image_folder_transform_and_extensions(folder_tree):
    with pytest.warns(EmptyFoldersWarning, match=r"empty_class holds no images \(\.PNG\)"):
        ds = ImageFolderDataset(
            folder_tree, (1, 4, 4), extensions=["PNG"], transform=lambda x: x * 0
        )
    assert float(ds[0][0].abs().sum()) == 0.0
    with pytest.raises(ValueError, match=r"hold no images \(\.jpg\): put"):
        ImageFolderDataset(folder_tree, (1, 4, 4), extensions=[".jpg"])


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        ImageFolderDataset(tmp_path / "missing", (1, 4, 4))
    assert "relative to" not in str(err.value)  # an absolute path needs no note


def test_a_missing_relative_folder_says_where_it_was_looked_for(tmp_path, monkeypatch):
    """A relative data folder is read from the current folder, which the error names (a config
    run from another folder than the one its paths were written for)."""
    from siamkit.data.signature_layouts import detect_layout, scan_signature_layout

    monkeypatch.chdir(tmp_path)
    where = rf"'chips' does not exist or is not a folder \(relative to the current folder, {tmp_path}\)\."
    with pytest.raises(FileNotFoundError, match="Image folder " + where):
        ImageFolderDataset("chips", (1, 4, 4))
    with pytest.raises(FileNotFoundError, match="Signature folder " + where):
        scan_signatures("chips")
    with pytest.raises(FileNotFoundError, match="Signature folder " + where):
        detect_layout("chips")
    with pytest.raises(FileNotFoundError, match="Signature folder " + where):
        scan_signature_layout("chips", "folders")
    (tmp_path / "flat").mkdir()
    _write_png(tmp_path / "flat" / "a.png", 0)
    with pytest.raises(ValueError, match="one folder per class"):
        ImageFolderDataset(tmp_path / "flat", (1, 4, 4))


def test_image_folder_corrupt_file_named(tmp_path):
    root = tmp_path / "r"
    _write_png(root / "a" / "ok.png", 1)
    (root / "a" / "broken.png").write_bytes(b"\x89PNG garbage")
    ds = ImageFolderDataset(root, (1, 4, 4))
    with pytest.raises(ImageReadError, match=r"broken\.png"):
        ds.load_all()


def test_an_unreadable_item_read_alone_is_not_called_item_1_of_1(tmp_path):
    # ds[i] reads its one file through load_images([path]), whose refusal began "Item 1 of 1:",
    # though the item was the dataset's third of four (and load_images(path) said the same)
    root = tmp_path / "r"
    for name in ("a/1.png", "a/2.png", "b/1.png"):
        _write_png(root / name, 1)
    (root / "b" / "2.png").write_bytes(b"\x89PNG garbage")
    ds = ImageFolderDataset(root, (1, 4, 4))
    with pytest.raises(ImageReadError, match=r"2\.png") as err:
        ds[3]
    assert "Item 1 of 1" not in str(err.value)
    with pytest.raises(ImageReadError, match=r"^Item 2 of 2: .*2\.png"):  # a list still says it
        load_images([root / "a" / "1.png", root / "b" / "2.png"], (1, 4, 4))


@pytest.fixture
def omniglot_tree(tmp_path: Path) -> Path:
    root = tmp_path / "omniglot"
    for subset, alphabets in (
        ("images_background", ["Latin", "Greek"]),
        ("images_evaluation", ["Kanji"]),
    ):
        for alphabet in alphabets:
            for ch in ("character01", "character02"):
                for k in range(3):
                    _write_png(root / subset / alphabet / ch / f"{k}.png", 255, size=(105, 105))
    return root


def test_omniglot_layout(omniglot_tree):
    ds = OmniglotDataset(omniglot_tree, (1, 28, 28), invert=True)
    expected = [f"{a}/{c}" for a in ("Greek", "Latin") for c in ("character01", "character02")]
    assert ds.classes == expected
    assert len(ds) == 12 and torch.bincount(ds.labels).tolist() == [3] * 4
    image, _ = ds[0]
    assert image.shape == (1, 28, 28) and float(image.max()) < 1e-6  # white paper -> 0
    assert len(OmniglotDataset(omniglot_tree, (1, 28, 28), subset="evaluation").classes) == 2
    assert len(OmniglotDataset(omniglot_tree, (1, 28, 28), subset="all").classes) == 6
    direct = OmniglotDataset(omniglot_tree / "images_evaluation", (1, 28, 28))
    assert direct.classes == ["Kanji/character01", "Kanji/character02"]


def test_omniglot_names_the_character_folders_it_leaves_out_for_holding_no_images(omniglot_tree):
    """A character folder without images was skipped without a word: the user lost a class."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert OmniglotDataset(omniglot_tree, (1, 28, 28)).empty_folders == []
    (omniglot_tree / "images_background" / "Greek" / "character03").mkdir()
    (omniglot_tree / "images_evaluation" / "Kanji" / "character09").mkdir()
    with pytest.warns(EmptyFoldersWarning) as caught:
        ds = OmniglotDataset(omniglot_tree, (1, 28, 28), subset="all")
    assert len(ds.classes) == 6 and "Greek/character03" not in ds.classes
    assert ds.empty_folders == [
        "images_background/Greek/character03",
        "images_evaluation/Kanji/character09",
    ]
    assert [str(w.message) for w in caught] == [
        f"2 character folders of {omniglot_tree} hold no images (.png, .jpg, .jpeg, .bmp, .gif, "
        ".tif, .tiff, .webp) and are left out (images_background/Greek/character03, "
        "images_evaluation/Kanji/character09): add their images, or remove the folders"
    ]
    with pytest.warns(EmptyFoldersWarning, match=r"folder .*Greek/character03 holds no images"):
        OmniglotDataset(omniglot_tree / "images_background", (1, 28, 28))


def test_omniglot_names_alphabet_and_character_links_to_nothing(tmp_path):
    """An alphabet or a character that is a link to nothing (an unmounted drive) was dropped
    without a word, while an empty character folder was named (s58_FA Q3)."""
    top = tmp_path / "om" / "images_background"
    _write_png(top / "Alpha" / "char1" / "1.png", 255)
    os.symlink("/nonexist/char2", top / "Alpha" / "char2")
    os.symlink("/nonexist/Beta", top / "Beta")
    with pytest.warns(LeftOutFilesWarning) as caught:
        ds = OmniglotDataset(tmp_path / "om", (1, 12, 12))
    assert ds.classes == ["Alpha/char1"] and ds.empty_folders == []
    assert [str(w.message) for w in caught] == [
        f"left out the link {top / 'Beta'}: it leads to /nonexist/Beta, which does not exist; "
        "point it at an alphabet folder, or remove it",
        f"left out the link {top / 'Alpha' / 'char2'}: it leads to /nonexist/char2, which does "
        "not exist; point it at a character folder, or remove it",
    ]


def test_omniglot_names_images_lying_beside_its_alphabets_or_characters(tmp_path):
    """An image directly in images_background or in an alphabet folder is of no class, and
    OmniglotDataset dropped it without a word where ImageFolderDataset names it (s59_FA
    finding 2). A character folder is where either would be read, so the sentence says so."""
    top = tmp_path / "om" / "images_background"
    for alphabet in ("Angelic", "Greek"):
        for character in ("character01", "character02"):
            for k in range(2):
                _write_png(top / alphabet / character / f"{k}.png", 100 * k)
    _write_png(top / "Angelic" / "stray.png", 0)
    _write_png(top / "top.png", 0)
    with pytest.warns(LeftOutFilesWarning) as caught:
        ds = OmniglotDataset(tmp_path / "om", (1, 12, 12))
    assert len(ds) == 8 and len(ds.classes) == 4
    assert [str(w.message) for w in caught] == [
        f"left out the image {top / 'top.png'}: it lies directly in {top}, not in a character "
        "folder, so it is of no character; move it into its character's folder to include it",
        f"left out the image {top / 'Angelic' / 'stray.png'}: it lies directly in "
        f"{top / 'Angelic'}, not in a character folder, so it is of no character; move it into "
        "its character's folder to include it",
    ]
    (top / "top.png").unlink()
    (top / "Angelic" / "stray.png").unlink()
    _write_png(top / "Greek" / "a.png", 0)
    _write_png(top / "Greek" / "b.png", 0)
    with pytest.warns(
        LeftOutFilesWarning, match=r"^left out 2 images that lie directly in .*Greek, "
    ):
        OmniglotDataset(top, (1, 12, 12))  # images_background given itself


def test_omniglot_names_the_links_it_cannot_read_in_its_refusal(tmp_path, monkeypatch):
    """An alphabet or a character that is a link whose target cannot be read (another user's
    folder) was warned about, and then refused as "No Omniglot images under ...; expected ..."
    alone, where ImageFolderDataset's refusal names such a link (s59_c3 noticed). Both are named,
    in the one wording of the two refusals; a link named as an image is no alphabet folder, so
    the warning alone names it. Simulated: this machine runs as root, so os.stat is refused."""
    om, secret = tmp_path / "om", tmp_path / "secret"
    top = om / "images_background"
    _write_png(secret / "Greek" / "alpha" / "0.png", 0)
    _write_png(secret / "x.png", 0)
    (top / "Latin" / "b").mkdir(parents=True)  # empty: no images anywhere
    links = {
        top / "Greek": secret / "Greek",
        top / "Latin" / "a": secret / "Greek" / "alpha",
        top / "x.png": secret / "x.png",
    }
    for link, target in links.items():
        os.symlink(target, link)
    real = os.stat

    def stat(path, *args, **kwargs):
        if Path(os.fspath(path)) in links:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ValueError) as err:
        warnings.simplefilter("always")
        OmniglotDataset(om, (1, 12, 12))
    reason = (  # each link with its target (it said "are links whose target cannot be read")
        f"2 links lead to targets that cannot be read, {top / 'Greek'} leads to "
        f"{secret / 'Greek'} (permission denied) and {top / 'Latin' / 'a'} leads to "
        f"{secret / 'Greek' / 'alpha'} (permission denied)"
    )
    assert str(err.value) == (
        f"No Omniglot images under '{om}'; expected images_background/<alphabet>/<character>/"
        f"*.png: {reason}: give read access to the links' targets, or remove the links"
    )
    from siamkit.data.folders import _locked_reasons  # the refusals' one wording

    links = [top / "Greek", top / "Latin" / "a"]  # the reasons the walk met, carried
    denied = {os.fspath(p): "permission denied" for p in links}
    led = {
        os.fspath(links[0]): str(secret / "Greek"),
        os.fspath(links[1]): str(secret / "Greek" / "alpha"),
    }
    assert _locked_reasons(links, denied, led) == [reason]
    notes = " ".join(str(w.message) for w in caught)
    assert "left out 2 links whose targets cannot be read" in notes
    assert f"{top / 'x.png'} leads to {secret / 'x.png'} (permission denied)" in notes


def test_the_loose_image_sentence_puts_the_article_its_noun_takes() -> None:
    """_loose_note wrote "a {noun} folder" by hand: "a identity folder", "a alphabet folder"."""
    from siamkit.data.folders import _loose_note

    root = Path("faces")
    one = _loose_note(root, [root / "x.png"], "identity")
    assert "not in an identity folder, so it is of no identity;" in one
    two = _loose_note(root, [root / "x.png", root / "y.png"], "alphabet")
    assert "not in an alphabet folder, e.g." in two
    assert "not in a class folder" in _loose_note(root, [root / "x.png"])


def test_omniglot_errors(omniglot_tree, tmp_path):
    with pytest.raises(ValueError, match="subset must be"):
        OmniglotDataset(omniglot_tree, subset="train")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(FileNotFoundError, match="images_background"):
        OmniglotDataset(tmp_path / "nothing")


@pytest.fixture
def pair_files(tmp_path: Path) -> Path:
    for name, value in (("a.png", 0), ("b.png", 128), ("c.png", 255)):
        _write_png(tmp_path / "img" / name, value)
    return tmp_path


def test_pairs_csv(pair_files):
    csv = pair_files / "pairs.csv"
    csv.write_text("path_a,path_b,same,note\nimg/a.png,img/b.png,1,x\nimg/a.png,img/c.png,0,\n")
    ds = PairsCSVDataset(csv, (1, 5, 5))
    assert len(ds) == 2 and ds.same.tolist() == [1, 0]
    a, c, same = ds[1]
    assert same == 0 and a.shape == (1, 5, 5)
    assert float(a.max()) == pytest.approx(0.0, abs=1e-6)
    assert float(c.min()) == pytest.approx(1.0, abs=1e-6)
    pairs = read_pairs_csv(csv)
    assert pairs[0].path_b == pair_files / "img" / "b.png"


def test_pairs_csv_root_and_absolute(pair_files, tmp_path):
    other = tmp_path / "lists"
    other.mkdir()
    csv = other / "p.csv"
    csv.write_text(f"path_a,path_b,same\na.png,{pair_files / 'img' / 'c.png'},1\n")
    assert len(PairsCSVDataset(csv, (1, 5, 5), root=pair_files / "img")) == 1


@pytest.mark.parametrize(
    ("content", "error", "match"),
    [
        ("a,b,same\nimg/a.png,img/b.png,1\n", ValueError, r"line 1: .*missing path_a, path_b"),
        ("", ValueError, "got nothing"),
        ("path_a,path_b,same\n", ValueError, "no pairs"),
        (
            "path_a,path_b,same\nimg/a.png,img/b.png,1\nimg/a.png,img/b.png,2\n",
            ValueError,
            "line 3: 'same' must be 0 or 1",
        ),
        ("path_a,path_b,same\nimg/a.png,img/b.png,yes\n", ValueError, "line 2: 'same'"),
        ("path_a,path_b,same\nimg/a.png,,1\n", ValueError, "line 2: column 'path_b' is empty"),
        (  # an unquoted comma in a path: read as path_a 'img/a', path_b ' b.png', same 'img/b.png'
            "path_a,path_b,same\nimg/a.png,img/b.png,1\nimg/a, b.png,img/b.png,1\n",
            ValueError,
            r"line 3: 4 values where the header names 3 columns; put a path that holds a comma",
        ),
        (
            "path_a,path_b,same\nimg/a.png,img/zz.png,1\n",
            FileNotFoundError,
            r"line 2: path_b file .*zz\.png",
        ),
    ],
)
def test_pairs_csv_errors(pair_files, content, error, match):
    csv = pair_files / "bad.csv"
    csv.write_text(content)
    with pytest.raises(error, match=match):
        PairsCSVDataset(csv, (1, 5, 5))


def test_a_pairs_csv_not_in_utf8_names_its_line(pair_files):
    csv = pair_files / "latin1.csv"
    csv.write_bytes(b"path_a,path_b,same\nimg/a.png,img/b.png,1\nimg/caf\xe9.png,img/b.png,1\n")
    with pytest.raises(
        ValueError, match=r"latin1\.csv line 3: byte 0xe9 at offset \d+ is not UTF-8 text; save"
    ):
        read_pairs_csv(csv)


def test_pairs_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        PairsCSVDataset(tmp_path / "none.csv", (1, 5, 5))


@pytest.fixture
def signature_tree(tmp_path: Path) -> Path:
    root = tmp_path / "sig"
    layout = {"w1": (3, 2), "w2": (2, 0), "w3": (4, 3)}
    for writer, (n_gen, n_forg) in layout.items():
        for i in range(n_gen):
            _write_png(root / writer / "genuine" / f"g{i}.png", 10 * i)
        for i in range(n_forg):
            _write_png(root / writer / "forged" / f"f{i}.png", 200 + i)
    (root / "not_a_writer").mkdir()
    return root


def _reference_pairs(root: Path) -> set[tuple[str, str, int]]:
    out = set()
    for writer in sorted(p for p in root.iterdir() if (p / "genuine").is_dir()):
        gen = sorted((writer / "genuine").glob("*.png"))
        forg = sorted((writer / "forged").glob("*.png")) if (writer / "forged").is_dir() else []
        for i in range(len(gen)):
            for j in range(i + 1, len(gen)):
                out.add((str(gen[i]), str(gen[j]), 1))
            for f in forg:
                out.add((str(gen[i]), str(f), 0))
    return out


def test_signature_pairs_match_reference(signature_tree):
    with pytest.warns(EmptyFoldersWarning, match=r"writer folder .*not_a_writer holds no genuine"):
        ds = SignatureDataset(signature_tree, input_shape=(1, 8, 8))
    got = {(str(p.reference), str(p.questioned), p.same) for p in ds.pairs}
    assert got == _reference_pairs(signature_tree)
    assert len(ds) == (3 + 6 + 1 + 6 + 12)  # C(3,2)+3*2, C(2,2), C(4,2)+4*3
    assert [w.writer for w in ds.writers] == ["w1", "w2", "w3"]
    assert all(p.reference.parent.name == "genuine" for p in ds.pairs)
    ref, questioned, same = ds[len(ds) - 1]
    assert ref.shape == (1, 8, 8) and same == 0 and float(questioned.min()) > 0.7


def test_signature_subsampling_is_reproducible(signature_tree):
    with pytest.warns(EmptyFoldersWarning, match="not_a_writer"):  # the empty folder
        a = SignatureDataset(signature_tree, (1, 8, 8), max_pairs_per_writer=2, seed=3).pairs
        b = SignatureDataset(signature_tree, (1, 8, 8), max_pairs_per_writer=2, seed=3).pairs
        every = {p for p in SignatureDataset(signature_tree, (1, 8, 8)).pairs}
    assert a == b
    for w in ("w1", "w2", "w3"):
        for same in (0, 1):
            assert sum(1 for p in a if p.writer == w and p.same == same) <= 2
    assert set(a) <= every


def test_signature_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        scan_signatures(tmp_path / "none")
    (tmp_path / "w" / "forged").mkdir(parents=True)
    with pytest.raises(ValueError, match="genuine"):
        SignatureDataset(tmp_path)
    _write_png(tmp_path / "w" / "genuine" / "only.png", 0)
    with pytest.raises(ValueError, match="No pairs"):
        SignatureDataset(tmp_path)


def test_image_folder_names_the_files_it_leaves_out_for_their_extension(tmp_path):
    """2 photos of 12 per class saved without an extension were left out without a word; they
    are named (a few of them) in one warning, and still not read as images."""
    root = tmp_path / "photos"
    for cls in ("boot", "sandal"):
        for i in range(3):
            _write_png(root / cls / f"{i}.png", 10 * i)
        for i in (3, 4):  # real PNGs, named without an image extension
            Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / cls / f"scan_{i}", "PNG")
    _write_png(root / "boot" / ".scan_5.png", 50)  # hidden: skipped without a word
    (root / "boot" / ".DS_Store").write_bytes(b"")
    with pytest.warns(LeftOutFilesWarning) as caught:
        ds = ImageFolderDataset(root, (1, 4, 4))
    assert len(ds) == 6 and all(p.suffix == ".png" for p, _ in ds.samples)
    assert ds.left_out == [root / c / f"scan_{i}" for c in ("boot", "sandal") for i in (3, 4)]
    assert [str(w.message) for w in caught] == [
        f"left out 4 files that are not images by their extension, e.g. {root}/boot/scan_3, "
        f"{root}/boot/scan_4: give them an extension (.png, .jpg) to include them if they are "
        "images"
    ]
    assert issubclass(LeftOutFilesWarning, EmptyFoldersWarning)  # shown as its one line
