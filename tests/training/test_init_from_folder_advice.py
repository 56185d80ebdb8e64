"""``--init-from`` a photo model while the config still reads another data set (digits here,
fashion-mnist in configs/finetune.yaml) advised "read an image folder at the model's shape
(data.image_size: 8, data.grayscale: false)" without naming data.dataset or data.root, so the
settings it gave kept the run on the same data set. The sentence now names every setting to
pass; passed as it says (FOLDER a photo folder), the run's inputs are the model's. It also left
out data.train_classes=null: the config's classes 0-5 refused a folder of fewer classes ("unknown
train classes") and trained on the first six of a larger one; the test passes only the advised
settings, so a missing one fails it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from siamkit.training import apply_overrides, load_run_data
from siamkit.training.init_from import check_init_fits


def test_the_shape_advice_names_the_settings_that_read_a_folder(
    tmp_path: Path, make_net, tiny_cfg, tiny_data
) -> None:
    root = tmp_path / "photos"
    for c in range(2):
        (root / str(c)).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), (40 * i, 90 * c, 20 * i)).save(root / str(c) / f"{i}.png")
    fits = ["data.train_classes=null", "eval.shots=[1]"]  # the 2-class folder's own needs
    photo_cfg = apply_overrides(
        tiny_cfg,
        ["data.dataset=image-folder", f"data.root={root}", "data.image_size=8", *fits],
    )
    photo = make_net(photo_cfg, load_run_data(photo_cfg.data))  # takes (3, 8, 8)
    run = make_net(tiny_cfg, tiny_data)  # the config reads digits: (1, 8, 8)
    assert tiny_cfg.data.dataset != "image-folder"
    with pytest.raises(ValueError) as err:
        check_init_fits(photo, run, "PHOTO_MODEL")
    said = re.search(r"read an image folder at the model's shape \(([^)]*)\)", str(err.value))
    assert said is not None, err.value
    sets = said[1].split()
    assert sets[0::2] == ["--set"] * (len(sets) // 2), said[1]
    given = [s.replace("FOLDER", str(root)) for s in sets[1::2]]
    keys = {s.split("=", 1)[0] for s in given}
    assert {"data.dataset", "data.root", "data.image_size", "data.grayscale"} <= keys, given
    cfg = apply_overrides(tiny_cfg, given)  # the advice alone, nothing else
    data = load_run_data(cfg.data)
    assert sorted(set(data.train_y.tolist())) == [0, 1]  # the folder's classes, all of them
    net = make_net(cfg, data)
    assert tuple(net.input_shape) == tuple(photo.input_shape) == (3, 8, 8)
    check_init_fits(photo, net, "PHOTO_MODEL")  # it now fits
