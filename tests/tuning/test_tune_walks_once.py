"""``run_study`` from Python loads the data of each data config its space checks (each value
of data.limit), and each load of one image folder walked it again: data.limit: [null, 40, 45]
walked every class folder three times, and the walk's warnings were said again wherever
Python's warning filter let them (s60_c6 noticed). The study walks each folder once."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.tuning._tiny_study import tiny_base

import siamkit.data.folders as folders
from siamkit.data.folders import (
    EmptyFoldersWarning,
    ImageFolderDataset,
    LeftOutFilesWarning,
    walk_classes,
)
from siamkit.tuning import run_study


def _folder(tmp_path: Path) -> Path:
    ds = tmp_path / "ds"
    rng = np.random.default_rng(0)
    for c in range(8):
        (ds / f"c{c}").mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((8, 8)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(ds / f"c{c}" / f"{i}.png")
    os.symlink("/nonexistent/d", ds / "gone")
    return ds


def test_a_study_walks_its_image_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = _folder(tmp_path)
    walked: Counter[str] = Counter()  # each class folder's walks (folders._walk: one a class)
    real = folders._walk

    def counting(folder: str | os.PathLike[str], *args: object, **kwargs: object) -> Iterator:
        walked[os.fspath(folder)] += 1
        return real(folder, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(folders, "_walk", counting)
    base = tiny_base(
        "data.dataset=image-folder", f"data.root={ds}", "data.train_classes=6",
        "data.val_classes=2", "data.image_size=8", "data.limit=null",
    )  # fmt: skip
    space = {"data.limit": {"choice": [None, 40, 45]}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # each said as often as it is raised
        run_study(base, space, tmp_path / "st", n_trials=1, progress=False)
    assert walked == {str(ds / f"c{c}"): 1 for c in range(8)}
    gone = [w for w in caught if f"left out the link {ds / 'gone'}" in str(w.message)]
    assert len(gone) == 1 and issubclass(gone[0].category, LeftOutFilesWarning)
    # outside a study each call walks (a folder changed since is read as it is now)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        walk_classes(ds)
    assert walked[str(ds / "c0")] == 2


def test_a_study_says_the_data_set_s_notes_of_its_folder_once(tmp_path: Path) -> None:
    """The data set's own notes of the walk (a class folder without images, a file that is not
    an image, an image directly in the root) were said once per data config (3 times for
    data.limit: [null, 40, 45]), though run_study said "its warnings are said once" (s61_r6
    finding 1). Each is said once; outside a study each load says them again."""
    ds = _folder(tmp_path)
    (ds / "c8").mkdir()  # a class folder without images
    (ds / "c0" / "notes.txt").write_text("x")  # a file that is not an image
    Image.new("L", (8, 8)).save(ds / "loose.png")  # an image of no class
    base = tiny_base(
        "data.dataset=image-folder", f"data.root={ds}", "data.train_classes=6",
        "data.val_classes=2", "data.image_size=8", "data.limit=null",
    )  # fmt: skip
    space = {"data.limit": {"choice": [None, 40, 45]}}
    notes = (
        (EmptyFoldersWarning, f"the class folder {ds / 'c8'} holds no images"),
        (LeftOutFilesWarning, f"left out 1 file that is not an image by its extension, {ds}"),
        (LeftOutFilesWarning, f"left out the image {ds / 'loose.png'}: it lies directly in"),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # each said as often as it is raised
        run_study(base, space, tmp_path / "st", n_trials=1, progress=False)
    said = [(w.category, str(w.message)) for w in caught]
    for kind, start in notes:
        assert [k for k, m in said if m.startswith(start)] == [kind], start
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            ImageFolderDataset(ds, (1, 8, 8))
    said = [(w.category, str(w.message)) for w in caught]
    for kind, start in notes:
        assert [k for k, m in said if m.startswith(start)] == [kind, kind], start
