"""With ``data.limit`` a self-supervised run trains on a seeded sample of data.root's images, so
its labelled folder under data.root may or may not have been trained on: training's kNN note
says "may be (data.limit keeps a sample)", but evaluate, calibrate and export --int8 said "the
run also trained on these images" as certain. They now say it may have, as training does; a run
without data.limit is still said to have trained on them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from siamkit.applications.ssl.config import SSLConfig, SSLDataConfig, ssl_config_to_dict
from siamkit.applications.ssl.task import _monitor_trained_on
from siamkit.cli._int8_check import val_root_trained_on


@pytest.mark.parametrize("limit", [None, 3])
def test_a_limited_run_may_have_trained_on_its_labelled_folder(
    tmp_path: Path, limit: int | None
) -> None:
    root, val_root = tmp_path / "photos", tmp_path / "photos" / "labelled"
    (val_root / "a").mkdir(parents=True)
    cfg = SSLConfig(data=SSLDataConfig(dataset="image-folder", root=str(root),
                                       val_root=str(val_root), limit=limit))  # fmt: skip
    # as task: ssl records the run (its _metadata): the config, and data.root resolved
    meta = {"config": ssl_config_to_dict(cfg), "run": {"data_root": str(root.resolve())}}
    note = val_root_trained_on(meta, str(val_root), "these figures")
    assert note is not None
    trained = _monitor_trained_on(cfg, torch.zeros(2, dtype=torch.long))
    assert trained is not None
    sure = limit is None
    assert ("may be (data.limit keeps a sample)" not in trained) is sure  # training's own note
    assert note.startswith("the run also trained on these images") is sure, note
    assert note.startswith("the run may have trained on these images") is not sure, note
    assert ("so these figures are not held out" in note) is sure, note
    if not sure:
        assert "data.limit 3" in note and "may not be held out" in note, note
