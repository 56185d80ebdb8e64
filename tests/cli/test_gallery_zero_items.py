"""A gallery file that holds no item: made with `touch shop.db`, or left by a first enrollment
killed (kill -9) between the file's creation and its first commit.

A 0-byte file is a new gallery to `siamkit enroll` (SQLite makes one of it), and a first enroll
into it that is stopped before it stored anything leaves it as it was, 0 bytes: it kept the
model's record, so the next enroll with another model was refused. A gallery that holds no
item takes any model (nothing in it to compare), where it was refused as the killed
enrollment's model's gallery."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
import siamkit.index.embedding as embedding_module
from siamkit.cli.main import cli
from siamkit.index import Gallery
from siamkit.index.results import GalleryMismatchError


def tiny_model(path: Path, seed: int) -> Path:
    import torch

    torch.manual_seed(seed)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    return Path(
        siamkit.save_model(siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), path)
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("zeroitems")
    rng = np.random.default_rng(0)
    for label in ("bag", "boot"):
        (root / "photos" / label).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "photos" / label / f"{i}.png")
    return {
        "photos": root / "photos",
        "model": tiny_model(root / "m0", 0),
        "other": tiny_model(root / "m1", 1),
    }


def enroll(model: Path, db: Path, photos: Path):
    res = CliRunner().invoke(cli, ["enroll", str(model), "--gallery", str(db), str(photos)])
    assert "Traceback" not in res.output
    return res


def labels_of(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("SELECT DISTINCT label FROM items ORDER BY label")]


def test_a_touched_file_is_a_new_gallery(made, tmp_path):
    db = tmp_path / "shop.db"
    db.touch()
    res = enroll(made["model"], db, made["photos"])
    assert res.exit_code == 0, res.output
    assert labels_of(db) == ["bag", "boot"]


def test_a_first_enroll_into_a_touched_file_stopped_leaves_it_empty(made, tmp_path, monkeypatch):
    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    db = tmp_path / "shop.db"
    db.touch()
    monkeypatch.setattr(embedding_module, "embed_inputs", stopped)
    res = enroll(made["model"], db, made["photos"])
    assert res.exit_code == 130, res.output
    # as it was: 0 bytes, no side files (it held the model's record, not a new gallery's nothing)
    assert db.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]
    monkeypatch.undo()
    res = enroll(made["other"], db, made["photos"])
    assert res.exit_code == 0, res.output


def test_a_gallery_left_empty_by_a_killed_first_enroll_takes_another_model(made, tmp_path):
    # what kill -9 between the file's creation and the first commit leaves: the gallery opened
    # by enroll (its schema, its model and model folder recorded) and no item
    db = tmp_path / "shop.db"
    with Gallery.open(db, siamkit.load_model(made["model"]), create=True) as g:
        g.remember_model_path(made["model"])
    res = enroll(made["other"], db, made["photos"])
    assert res.exit_code == 0, res.output
    assert labels_of(db) == ["bag", "boot"]
    stats = CliRunner().invoke(cli, ["gallery", str(db), "stats", "--json"])
    assert f'"model_path": "{made["other"].resolve()}"' in stats.output
    # now it holds items of that model: the first is refused, naming the folder it recorded
    res = enroll(made["model"], db, made["photos"])
    assert res.exit_code == 1
    assert f"was enrolled with the model in {made['other'].resolve()}" in res.output


def test_a_gallery_taken_over_while_open_refuses_the_first_models_enrollment(made, tmp_path):
    # two first enrollments at once with two models: the one that opened the empty gallery
    # first must not store its embeddings once the other has taken it over
    db = tmp_path / "shop.db"
    x = np.zeros((1, 1, 8, 8), np.float32)
    with Gallery.open(db, siamkit.load_model(made["model"]), create=True) as first:
        with Gallery.open(db, siamkit.load_model(made["other"])) as second:
            second.enroll("boot", x)
        with pytest.raises(GalleryMismatchError, match="taken over by another model"):
            first.enroll("bag", x)
    assert labels_of(db) == ["boot"]
