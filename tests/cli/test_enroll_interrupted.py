"""siamkit enroll stopped by Ctrl-C after some labels were stored: the gallery keeps them and
records the model folder that enrolled them, as a finished enrollment does. The folder was
recorded only once every label was stored, so `siamkit gallery PATH stats` of a gallery
whose first enrollment of 20,000 photos was interrupted showed no model_path, and a later
enroll with another model was refused with two fingerprints instead of the folder's name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

import siamkit
import siamkit.cli._enroll as enroll_module
from siamkit.cli.main import cli
from siamkit.index import Gallery
from siamkit.index.gallery import recorded_model_path


def test_an_interrupted_enroll_keeps_its_labels_and_the_model_folder(tmp_path, monkeypatch):
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    rng = np.random.default_rng(0)
    for label in ("bag", "boot"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / label / f"{i}.png")
    real = enroll_module.enroll_groups

    def stopped_after_the_first_label(gallery, model, groups, x, *args, **kwargs):
        first = dict(list(groups.items())[:1])
        real(gallery, model, first, x[: len(first["bag"])], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(enroll_module, "enroll_groups", stopped_after_the_first_label)
    db = tmp_path / "shop.db"
    res = CliRunner().invoke(
        cli, ["enroll", str(model), "--gallery", str(db), str(tmp_path / "photos")]
    )
    assert res.exit_code == 130, res.output
    with Gallery.open(db) as gallery:
        assert [info.label for info in gallery.labels()] == ["bag"]
    assert Path(recorded_model_path(db) or "") == Path(model).resolve()
    # it said only "run it again", leaving the user to wonder whether bag would be stored twice
    assert res.stderr.splitlines() == [
        f"interrupted (Ctrl-C) before every label was enrolled; the labels already stored in {db} "
        "are kept: run the same command again to enroll the rest (it skips the images they hold)"
    ]
    monkeypatch.undo()  # and so it does
    res = CliRunner().invoke(
        cli, ["enroll", str(model), "--gallery", str(db), str(tmp_path / "photos")]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"enrolled 2 images of 1 label into {db} (now 4 items): boot 2")
    assert "skipped 2 images already enrolled under the same label" in res.stdout


def test_an_enroll_interrupted_while_embedding_says_nothing_was_enrolled(tmp_path, monkeypatch):
    # every image is embedded before the first label is stored: a Ctrl-C then (most of a large
    # enrollment's time) stored nothing, yet the sentence said the labels stored were kept
    import siamkit.index.embedding as embedding_module

    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    rng = np.random.default_rng(0)
    for label in ("bag", "boot"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "photos" / label / "0.png")

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(embedding_module, "embed_inputs", stopped)
    db = tmp_path / "shop.db"
    res = CliRunner().invoke(
        cli, ["enroll", str(model), "--gallery", str(db), str(tmp_path / "photos")]
    )
    assert res.exit_code == 130, res.output
    assert res.stderr.splitlines() == [
        f"interrupted (Ctrl-C) before any label was stored in {db}: nothing was enrolled yet; "
        "run it again"
    ]
    assert not db.exists()  # the gallery it created, empty, is gone (test_enroll_first_stopped)
