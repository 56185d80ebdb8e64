"""A first `siamkit enroll` stopped before it stored anything (Ctrl-C, SIGTERM, an error on the
first batch) left an empty gallery file that recorded its model: the next enroll with another
model was refused, `siamkit gallery PATH stats` read it as a gallery. The file it created is
now removed, with its thumbnail side file and the folders made for it; a gallery that was there
before is never removed, and keeps exactly what it held."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
import siamkit.index.embedding as embedding_module
import siamkit.index.gallery as gallery_module
from _first_stopped import STOPS, items_of, stopping
from siamkit.cli.main import cli


def tiny_model(path: Path, seed: int) -> Path:
    import torch

    torch.manual_seed(seed)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    return Path(
        siamkit.save_model(siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), path)
    )


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for label in ("bag", "boot"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / label / f"{i}.png")
    return tmp_path / "photos"


def enroll(model: Path, db: Path, photos: Path):
    return CliRunner().invoke(cli, ["enroll", str(model), "--gallery", str(db), str(photos)])


@pytest.mark.parametrize(("stop", "code"), STOPS)
def test_a_first_enroll_stopped_while_embedding_leaves_no_file(
    tmp_path, photos, monkeypatch, stop, code
):
    model = tiny_model(tmp_path / "m", 0)
    db = tmp_path / "new" / "shop" / "shop.db"  # its folders too are made by the enroll
    monkeypatch.setattr(
        embedding_module, "embed_inputs", stopping(stop, "cannot read the first batch")
    )
    res = enroll(model, db, photos)
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()
    # the symptom: the next enroll, with another model, was refused as another model's gallery
    other = tiny_model(tmp_path / "other", 1)
    res = enroll(other, db, photos)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in db.parent.iterdir()) == ["shop.db", "shop.db.thumbs"]


def test_a_first_enroll_stopped_inside_its_first_transaction_leaves_no_file(
    tmp_path, photos, monkeypatch
):
    # stopped after the first label's rows were written, before its commit: rolled back, so
    # nothing was committed and the new file goes (thumbnail side file too)
    monkeypatch.setattr(gallery_module, "remove_thumbnails_from", stopping(KeyboardInterrupt))
    db = tmp_path / "shop.db"
    res = enroll(tiny_model(tmp_path / "m", 0), db, photos)
    assert res.exit_code == 130, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "photos"]


@pytest.mark.parametrize("where", ["embedding", "transaction"])
def test_an_existing_gallery_is_kept_whole_when_an_enroll_is_stopped(
    tmp_path, photos, monkeypatch, where
):
    model = tiny_model(tmp_path / "m", 0)
    db = tmp_path / "shop.db"
    first = tmp_path / "first"
    (first / "bag").mkdir(parents=True)
    (photos / "bag" / "0.png").rename(first / "bag" / "0.png")
    assert enroll(model, db, first).exit_code == 0
    before = items_of(db)
    stopped = stopping(KeyboardInterrupt)
    if where == "embedding":
        monkeypatch.setattr(embedding_module, "embed_inputs", stopped)
    else:  # the first label's rows written, not committed
        monkeypatch.setattr(gallery_module, "remove_thumbnails_from", stopped)
    res = enroll(model, db, photos)
    assert res.exit_code == 130, res.output
    assert items_of(db) == before
