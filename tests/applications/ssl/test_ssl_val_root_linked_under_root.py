"""A labelled folder (data.val_root) reached through a folder link under data.root is trained on
too since the image walk follows folder links (e434fb2d), but ``val_root_under_root`` compared
resolved paths and said it was not, so neither training's kNN note nor calibrate/evaluate's
"the run also trained on these images" note fired (reviewer s52_R3). It now follows the walk's
rule: checked against the images ``sort_files`` (the walk training reads) finds under data.root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from siamkit.applications.ssl.task import val_root_under_root
from siamkit.cli._int8_check import val_root_trained_on
from siamkit.data.folders import sort_files


def _photos(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (8, 8), (20 * i, 90, 40)).save(folder / f"{i}.png")


@pytest.mark.parametrize(
    ("link", "target", "val", "seen"),
    [("labelled", "elsewhere/labelled", "elsewhere/labelled", True),
     ("a/labelled", "elsewhere/labelled", "elsewhere/labelled", True),
     ("more", "elsewhere", "elsewhere/labelled", True),  # below a linked folder
     (".labelled", "elsewhere/labelled", "elsewhere/labelled", False),  # a hidden link
     ("a/.b/labelled", "elsewhere/labelled", "elsewhere/labelled", False),
     ("other", "elsewhere/other", "elsewhere/labelled", False),  # a link to another folder
     ("up", "", "elsewhere/labelled", False)],  # a link loop (to tmp_path) is not walked
)  # fmt: skip
def test_a_labelled_folder_linked_under_the_root_is_trained_on_as_the_walk_reads_it(
    tmp_path: Path, link: str, target: str, val: str, seen: bool
) -> None:
    root = tmp_path / "photos"
    _photos(root, 2)
    for c in ("x", "y"):
        _photos(tmp_path / "elsewhere" / "labelled" / c, 2)
        _photos(tmp_path / "elsewhere" / "other" / c, 1)
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(tmp_path / target, root / link)
    val_root = tmp_path / val
    trained, _ = sort_files(root)  # the images a run on data.root trains on
    labelled, _ = sort_files(val_root)
    reference = any(p.resolve() in {t.resolve() for t in trained} for p in labelled)
    assert reference is seen  # the walk itself, as the case says
    assert val_root_under_root(val_root, root) is reference
    meta = {"run": {"data_root": str(root.resolve())}, "config": {"data": {"limit": None}}}
    note = val_root_trained_on(meta, str(val_root), "these figures")
    assert (note is not None) is reference, note
