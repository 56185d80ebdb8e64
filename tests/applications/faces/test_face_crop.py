"""crop_folder writes its chips all or nothing (staged beside DEST, then moved in): the PNG read
back is the aligner's chip, and no temporary file is left behind."""

from __future__ import annotations

import os
import re
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from siamkit.applications.faces.align import FaceAligner
from siamkit.applications.faces.crop import crop_folder
from siamkit.applications.faces.detect import FaceDetector
from siamkit.applications.faces.pipeline import read_rgb
from siamkit.data.folders import ImageFolderDataset


def test_chips_are_the_aligned_faces_with_no_temporaries_left(face_folder, tmp_path) -> None:
    old = os.umask(0o022)
    try:
        written, skipped = crop_folder(face_folder, tmp_path / "chips")
    finally:
        os.umask(old)
    files = sorted(p for p in (tmp_path / "chips").rglob("*") if p.is_file())
    assert written == len(files) == 6 - len(skipped) >= 4
    assert all(p.suffix == ".png" and not p.name.startswith(".") for p in files)
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in files)
    src = face_folder / "Eileen_Collins" / "Eileen_Collins_0001.jpg"
    chip = tmp_path / "chips" / "Eileen_Collins" / "Eileen_Collins_0001.png"
    image = read_rgb(src)
    want = FaceAligner().chip(image, FaceDetector("hog", 1)(image)[0])
    got = np.asarray(Image.open(chip))
    assert got.shape == (150, 150, 3) and np.array_equal(got, want)


def _two_people(face_folder, tmp_path):
    src = tmp_path / "people"
    for person in ("Eileen_Collins", "Mega_Mind"):
        (src / person).mkdir(parents=True)
        name = f"{person}_0001.jpg"
        (src / person / name).write_bytes((face_folder / person / name).read_bytes())
    return src


def _tree(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize("nth", [1, 2])
def test_interrupted_crop_leaves_dest_complete_or_as_it_was(
    face_folder, tmp_path, monkeypatch, existing, nth
) -> None:
    """The chips were moved into DEST one file at a time: Ctrl-C in that loop left some people's
    chips in DEST (a data set that looked complete). Ctrl-C at any rename now leaves DEST as it
    was (absent, or empty) with no staging folder, unless the crop had already finished."""
    src, dest = _two_people(face_folder, tmp_path), tmp_path / "out" / "chips"
    (tmp_path / "out").mkdir()
    if existing:
        dest.mkdir()
    real, calls = os.rename, []

    def rename(a, b):  # type: ignore[no-untyped-def]
        calls.append(a)
        if len(calls) == nth:
            raise KeyboardInterrupt
        real(a, b)

    monkeypatch.setattr(os, "rename", rename)
    try:
        crop_folder(src, dest)
    except KeyboardInterrupt:
        monkeypatch.undo()
        assert _tree(tmp_path / "out") == (["chips"] if existing else [])
    else:
        monkeypatch.undo()
        assert _tree(dest) == [
            "Eileen_Collins",
            "Eileen_Collins/Eileen_Collins_0001.png",
            "Mega_Mind",
            "Mega_Mind/Mega_Mind_0001.png",
        ]
        assert _tree(tmp_path / "out") == ["chips", *(f"chips/{p}" for p in _tree(dest))]
    assert calls  # the crop got as far as moving its chips in


@pytest.mark.parametrize("existing", [False, True])
def test_crop_removes_staging_folders_of_killed_crops(face_folder, tmp_path, existing) -> None:
    """A crop killed with SIGKILL left its hidden staging folder (every chip made so far) and no
    later crop removed it. One untouched for an hour goes; a recent one (a crop running now)
    stays, and in an existing DEST it makes DEST not empty."""
    src, dest = _two_people(face_folder, tmp_path), tmp_path / "chips"
    where = dest if existing else tmp_path
    where.mkdir(exist_ok=True)
    stale = where / ".chips.crop-killed"
    (stale / "Mega_Mind").mkdir(parents=True)
    (stale / "Mega_Mind" / "Mega_Mind_0001.png").write_bytes(b"a chip")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    recent = tmp_path / ".chips.crop-running"
    recent.mkdir()
    written, _ = crop_folder(src, dest)
    assert written == 2 and not stale.exists() and recent.exists()
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]
    shutil.rmtree(dest)
    dest.mkdir()
    (dest / ".chips.crop-running").mkdir()
    with pytest.raises(ValueError, match="is not empty"):
        crop_folder(src, dest)


def test_crop_refuses_a_dest_that_is_not_empty(face_folder, tmp_path) -> None:
    """Chips were merged into a DEST holding other files, one by one: neither all nor nothing,
    and a re-crop of other photos silently mixed with earlier chips. Refused now, with one
    sentence, before any face is searched."""
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    src, dest = _two_people(face_folder, tmp_path), tmp_path / "chips"
    (dest / "Bob").mkdir(parents=True)
    (dest / "Bob" / "b.png").write_bytes(b"an earlier chip")
    res = CliRunner().invoke(cli, ["face", "crop", str(src), str(dest)])
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1, res.output
    assert res.output.startswith(f"Error: {dest} is not empty; give a new or empty folder")
    assert _tree(dest) == ["Bob", "Bob/b.png"]


@pytest.mark.parametrize("inside", ["Eileen_Collins/chips", ".", "Mega_Mind/../x"])
def test_crop_refuses_a_dest_inside_source(face_folder, tmp_path, inside) -> None:
    """`face crop people people/Eileen_Collins/chips` wrote Mega_Mind's chips into Eileen's
    folder, so the next crop or training run of people read them as photos of Eileen."""
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    src = _two_people(face_folder, tmp_path)
    before = _tree(src)
    dest = f"{src}/{inside}"
    res = CliRunner().invoke(cli, ["face", "crop", str(src), dest])
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1, res.output
    where = "is" if inside == "." else "is inside"
    assert res.output.strip() == (
        f"Error: {Path(dest)} {where} {src}: its chips would be read as photos of the person whose "
        f"folder holds them the next time {src} is read; give a destination outside {src}, "
        f"e.g. {tmp_path.resolve() / 'chips'}"
    )
    assert _tree(src) == before


def test_images_sharing_a_stem_get_a_chip_each(face_folder, tmp_path) -> None:
    """``a.jpg`` and ``a.png`` in one person's folder were both cropped to ``a.png``: the second
    chip overwrote the first while the count said two. Each now keeps its whole name; a stem
    that no other image shares keeps the ``<stem>.png`` name, and a name that would still clash
    is refused before any face is searched."""
    src = tmp_path / "people" / "Mega_Mind"
    src.mkdir(parents=True)
    jpg = face_folder / "Mega_Mind" / "Mega_Mind_0001.jpg"
    (src / "a.jpg").write_bytes(jpg.read_bytes())
    Image.open(face_folder / "Mega_Mind" / "Mega_Mind_0002.jpg").save(src / "a.png")
    (src / "b.jpg").write_bytes(jpg.read_bytes())
    written, skipped = crop_folder(src.parent, tmp_path / "chips")
    assert (written, skipped) == (3, [])
    chips = tmp_path / "chips" / "Mega_Mind"
    assert sorted(p.name for p in chips.iterdir()) == ["a.jpg.png", "a.png.png", "b.png"]
    assert not np.array_equal(
        np.asarray(Image.open(chips / "a.jpg.png")), np.asarray(Image.open(chips / "a.png.png"))
    )
    (src / "a.jpg.png").write_bytes((chips / "b.png").read_bytes())
    with pytest.raises(ValueError, match="would both be cropped to"):
        crop_folder(src.parent, tmp_path / "chips2")
    assert not (tmp_path / "chips2").exists()


def test_photos_directly_in_source_are_refused_before_any_face_is_searched(
    face_folder, tmp_path, monkeypatch
) -> None:
    """A folder of one person's photos (no folder per person) was cropped into chips directly
    in DEST, chips of no person that `siamkit train` cannot read as a class; an empty SOURCE
    said only 'no images found'."""
    import siamkit.applications.faces.crop as crop

    monkeypatch.setattr(crop, "FaceDetector", lambda *a: pytest.fail("faces were searched"))
    one = face_folder / "Eileen_Collins"
    with pytest.raises(ValueError) as err:
        crop_folder(one, tmp_path / "chips")
    assert str(err.value) == (
        f"{one} holds 2 photos directly (e.g. Eileen_Collins_0001.jpg); it needs a folder per "
        f"person: move each person's photos into {one / '<name>'}/"
    )
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"give a folder of one sub-folder of photos per person"):
        crop_folder(tmp_path / "empty", tmp_path / "chips")
    assert not (tmp_path / "chips").exists()


def test_people_are_listed_as_training_lists_the_classes(face_folder, tmp_path) -> None:
    """crop_folder listed SOURCE with find_images, every file under it without the class walk's
    rules: a photo hard-linked into two people (Eileen_Collins/b.jpg as Mega_Mind/dup.jpg) was
    cropped into a chip in each, then trained as two classes, and a link from one person into
    another's folder made a chip of Eileen's face in Mega_Mind's (reviewers s55_c3 and s55_R3,
    left). It lists through the class walk now, as face evaluate --identities does: the chips
    (and the photos without a face) are training's images of SOURCE, the same sentences name
    what is left out. Reference: ImageFolderDataset of SOURCE."""
    src = _two_people(face_folder, tmp_path)
    second = face_folder / "Eileen_Collins" / "Eileen_Collins_0002.jpg"
    (src / "Eileen_Collins" / "b.jpg").write_bytes(second.read_bytes())
    os.link(src / "Eileen_Collins" / "b.jpg", src / "Mega_Mind" / "dup.jpg")
    os.symlink("../Eileen_Collins/Eileen_Collins_0001.jpg", src / "Mega_Mind" / "x.jpg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written, skipped = crop_folder(src, tmp_path / "chips")
    with warnings.catch_warnings(record=True) as trained:
        warnings.simplefilter("always")
        data = ImageFolderDataset(src, (3, 8, 8))
    chips = [p.relative_to(src).with_suffix(".png").as_posix() for p, _ in data.samples]
    missed = [p.relative_to(src).with_suffix(".png").as_posix() for p in skipped]
    assert sorted(_tree(tmp_path / "chips") + missed) == sorted(
        ["Eileen_Collins", "Mega_Mind", *chips]
    )
    assert sorted(chips) == [
        "Eileen_Collins/Eileen_Collins_0001.png",
        "Mega_Mind/Mega_Mind_0001.png",
    ]
    assert written == 2 - len(skipped)
    said = [str(w.message) for w in caught]
    # the same sentences, of people (training's "class" as the people walk's noun)
    assert said == _as([str(w.message) for w in trained]) and len(said) == 2  # link, shared


def _as(notes: list[str]) -> list[str]:
    """Training's ``notes`` in the person walk's noun: "class" as "person", "classes" as
    "people" (whole words: a tmp path's ``_classes0`` is kept)."""
    return [re.sub(r"\bclass\b", "person", re.sub(r"\bclasses\b", "people", n)) for n in notes]
