"""`siamkit gallery check` on a sound gallery that holds no items (created and never enrolled
into, or every label removed) answered `ok` as for any other, which reads as a gallery to search:
it now says plainly that it holds no items, still with exit status 0; a gallery with items and a
gallery with something wrong are reported as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli
from siamkit.index import Gallery


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    import torch

    root = tmp_path_factory.mktemp("checkempty")
    made = {}
    for name, seed in (("model", 0), ("other", 1)):
        torch.manual_seed(seed)
        enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
        net = siamkit.SiameseNetwork(
            enc, embedding_dim=4, preprocess=siamkit.Preprocess(input_shape=(1, 8, 8))
        )
        made[name] = Path(siamkit.save_model(net, root / name))
    photo = root / "photos" / "bag" / "0.png"
    photo.parent.mkdir(parents=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)).save(photo)
    made["photos"] = root / "photos"
    return made


def run(args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


def _never_enrolled(models, tmp_path) -> Path:
    db = tmp_path / "shop.db"
    Gallery.open(db, siamkit.load_model(models["model"]), create=True).close()
    return db


def _all_removed(models, tmp_path) -> Path:
    db = tmp_path / "shop.db"
    run(["enroll", models["model"], "--gallery", db, models["photos"]])
    run(["gallery", db, "remove", "bag"])
    return db


@pytest.mark.parametrize("make", [_never_enrolled, _all_removed])
def test_a_sound_gallery_of_no_items_says_it_holds_none(models, tmp_path, make):
    db = make(models, tmp_path)
    res = run(["gallery", "check", db, "--model", models["model"]])
    lines = res.stdout.splitlines()
    assert lines[1:3] == ["integrity          ok", "num_items          0"]
    assert lines[-1] == f"ok, but {db} holds no items: nothing is enrolled in it"
    doc = json.loads(run(["gallery", "check", db, "--json"]).stdout)
    assert (doc["ok"], doc["problems"], doc["num_items"]) == (True, [], 0)
    assert doc["note"] == f"{db} holds no items: nothing is enrolled in it"


def test_a_gallery_with_items_checks_ok_without_a_note(models, tmp_path):
    db = tmp_path / "shop.db"
    run(["enroll", models["model"], "--gallery", db, models["photos"]])
    res = run(["gallery", "check", db])
    assert res.stdout.splitlines()[-1] == "ok"
    assert "holds no items" not in res.output
    assert json.loads(run(["gallery", "check", db, "--json"]).stdout)["note"] is None


def test_an_empty_gallery_takes_another_model(models, tmp_path):
    # it was refused as another model's gallery; holding no item, it has nothing to compare,
    # and `siamkit enroll` with that model takes it over (the check says what enroll does)
    db = _never_enrolled(models, tmp_path)
    res = run(["gallery", "check", db, "--model", models["other"]])
    assert res.stdout.splitlines()[-1] == f"ok, but {db} holds no items: nothing is enrolled in it"
    run(["enroll", models["other"], "--gallery", db, models["photos"]])
    res = run(["gallery", "check", db, "--model", models["model"]], code=1)
    assert "was built by a different model" in res.output
    assert res.output.count("Error: ") == 1
