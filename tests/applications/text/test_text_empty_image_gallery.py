"""A gallery that holds no item takes any model (2c5227f): an empty one that recorded an image
model (its first ``siamkit enroll`` killed before its commit, or every label removed) was
refused by the text commands without --model as "holds images enrolled with the image model
..."; they now take the default model, as for a gallery that records none. (With --model it
was taken already, as any model is: that test guards it.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from test_text_identify_cli import TICKETS, tiny_model, write_corpus

import siamkit
from siamkit.cli.main import cli
from siamkit.index import Gallery


@pytest.fixture
def empty_image_gallery(tmp_path: Path) -> tuple[Path, Path]:
    """An image model's folder and a gallery that recorded it and holds no item."""
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    images = siamkit.save_model(siamkit.SiameseNetwork(enc, 4, preprocess=pre), tmp_path / "img")
    gallery = tmp_path / "shop.db"
    with Gallery.open(gallery, siamkit.load_model(images), create=True) as g:
        g.remember_model_path(images)  # what a killed first `siamkit enroll` leaves
    return Path(images), gallery


def test_text_enroll_with_model_takes_it(tiny_hf, tmp_path, empty_image_gallery):
    _, gallery = empty_image_gallery
    model = tiny_model(tiny_hf, tmp_path / "text")
    corpus = write_corpus(tmp_path / "t.jsonl", TICKETS)
    res = CliRunner().invoke(
        cli, ["text", "enroll", str(corpus), "--gallery", str(gallery), "--model", str(model),
              "--device", "cpu", "--no-progress", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["num_items"] == len(TICKETS)


def test_without_model_it_takes_the_default_model(tmp_path, empty_image_gallery):
    images, gallery = empty_image_gallery
    note = (
        f"model: all-MiniLM-L6-v2, the default ({gallery} holds no item of the image model "
        f"{images.resolve()} it recorded)"
    )
    corpus = write_corpus(tmp_path / "t.jsonl", {"T-1": TICKETS["T-1"]})
    res = CliRunner().invoke(
        cli, ["text", "enroll", str(corpus), "--gallery", str(gallery), "--device", "cpu",
              "--no-progress", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["num_items"] == 1 and res.stderr.splitlines() == [note]
    stats = CliRunner().invoke(cli, ["gallery", str(gallery), "stats", "--json"])
    assert json.loads(stats.stdout)["model_path"] == ""  # the image model's record is gone


def test_a_gallery_whose_labels_were_all_removed_is_not_said_to_be_unenrolled(
    tmp_path, empty_image_gallery
):
    # the image model enrolled there, and every label was removed: the note said that model
    # "enrolled nothing there"
    images, gallery = empty_image_gallery
    with Gallery.open(gallery, siamkit.load_model(images)) as g:
        g.enroll("bag", torch.zeros(1, 1, 8, 8))
        g.remove("bag")
    corpus = write_corpus(tmp_path / "t.jsonl", {"T-1": TICKETS["T-1"]})
    res = CliRunner().invoke(
        cli, ["text", "enroll", str(corpus), "--gallery", str(gallery), "--device", "cpu",
              "--no-progress", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        f"model: all-MiniLM-L6-v2, the default ({gallery} holds no item of the image model "
        f"{images.resolve()} it recorded)"
    ]
