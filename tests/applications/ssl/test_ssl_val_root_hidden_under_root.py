"""A labelled folder (data.val_root) under data.root in a hidden folder (``root/.labelled``) was
said to be trained on (the kNN monitor's note, and evaluate/calibrate/export --int8's), though a
self-supervised run's walk of data.root skips hidden files and folders, so none of its images were
trained on. ``val_root_under_root`` now follows that walk: checked against the images
``sort_files`` (the walk training reads) finds under data.root, for folders in and out of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from siamkit.applications.ssl.config import SSLConfig, SSLDataConfig
from siamkit.applications.ssl.task import _monitor_trained_on, val_root_under_root
from siamkit.data.folders import sort_files


def _photos(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (8, 8), (20 * i, 90, 40)).save(folder / f"{i}.png")


@pytest.mark.parametrize(
    ("below", "seen"),
    [("labelled", True), ("a/b", True), ("", True), (".labelled", False),
     ("a/.labelled", False), (".a/labelled", False), ("../beside", False)],
)  # fmt: skip
def test_a_labelled_folder_is_under_the_root_as_training_reads_it(
    tmp_path: Path, below: str, seen: bool
) -> None:
    root = tmp_path / "photos"
    _photos(root, 2)
    val_root = (root / below).resolve() if below else root
    for c in ("x", "y"):
        _photos(val_root / c, 2)
    trained, _ = sort_files(root)  # the images a run on data.root trains on
    labelled, _ = sort_files(val_root)
    reference = any(p.resolve() in {t.resolve() for t in trained} for p in labelled)
    assert reference is seen  # the walk itself, as the case says
    assert val_root_under_root(val_root, root) is reference
    cfg = SSLConfig(data=SSLDataConfig(dataset="image-folder", root=str(root),
                                       val_root=str(val_root)))  # fmt: skip
    note = _monitor_trained_on(cfg, torch.zeros(4, dtype=torch.long))
    assert (note is not None) is reference, note
