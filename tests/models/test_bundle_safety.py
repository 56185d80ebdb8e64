"""Model folders: recovery from a save killed between its renames, validation of siamkit.json, umask."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.export import ModelFileError, load_model, save_model
from siamkit.export.bundle import CONFIG_FILE, WEIGHTS_FILE
from siamkit.models import Preprocess, SiameseNetwork


def small_net(seed: int = 0, threshold: float | None = 0.5) -> SiameseNetwork:
    torch.manual_seed(seed)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    net = SiameseNetwork(enc, 16, preprocess=Preprocess((0.5,), (0.25,), (1, 28, 28))).eval()
    net.threshold = threshold
    return net


def test_a_save_killed_between_its_two_renames_is_recovered_on_load(tmp_path: Path) -> None:
    first, second = small_net(0), small_net(1)
    dest = save_model(first, tmp_path / "model")
    # The kill point: ``model`` already renamed to ``.model.old``, the new copy still a temp folder.
    os.rename(dest, tmp_path / ".model.old")
    partial = tmp_path / ".model.k1ll3d"
    partial.mkdir()
    (partial / WEIGHTS_FILE).write_bytes(b"half a file")
    os.utime(partial, (0, 0))  # killed long ago (a running save's temp folder is left alone)
    running = tmp_path / ".model.running"
    running.mkdir()
    assert not dest.exists()

    back = load_model(dest)
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(back.embed(x), first.embed(x))  # the last complete save
    assert dest.is_dir() and not (tmp_path / ".model.old").exists() and not partial.exists()
    assert running.is_dir()
    running.rmdir()

    save_model(second, dest)  # and saving over it works as usual afterwards
    torch.testing.assert_close(load_model(dest).embed(x), second.embed(x))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        dest = save_model(small_net(), tmp_path / "model")
    finally:
        os.umask(old)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        assert stat.S_IMODE((dest / name).stat().st_mode) == 0o644, name
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755


def _edit(dest: Path, **changes: object) -> None:
    doc = json.loads((dest / CONFIG_FILE).read_text())
    for key, value in changes.items():
        if key == "input_shape":
            doc["model"]["preprocess"]["input_shape"] = value
        else:
            doc[key] = value
    (dest / CONFIG_FILE).write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": None}, "has no model description"),
        ({"model": "siamese"}, "has no model description"),
        ({"threshold": float("nan")}, "finite number"),
        ({"threshold": "0.5"}, "finite number"),
        ({"threshold": True}, "finite number"),
        ({"threshold": -0.1}, "negative threshold"),
        ({"input_shape": [1, 100000, 100000]}, "at most 4 channels"),
        ({"input_shape": [1, 0, 28]}, "positive integers"),
        ({"input_shape": [3, 28, 28]}, "does not fit its encoder"),
    ],
)
def test_a_bad_siamkit_json_is_refused_at_load_with_one_sentence(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    dest = save_model(small_net(), tmp_path / "model")
    _edit(dest, **changes)
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(dest)
    assert "\n" not in str(info.value)


def test_valid_thresholds_still_load(tmp_path: Path) -> None:
    for value in (None, 0, 0.25, 3):
        dest = save_model(small_net(threshold=None), tmp_path / f"m{value}")
        _edit(dest, threshold=value)
        assert load_model(dest).threshold == value


def test_a_folder_without_its_weights_says_what_to_give(tmp_path: Path) -> None:
    """It said only "X has no model.safetensors", not what folder would do."""
    dest = save_model(small_net(), tmp_path / "model")
    (dest / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelFileError, match=r"has no model\.safetensors, so it is not a whole "):
        load_model(dest)
