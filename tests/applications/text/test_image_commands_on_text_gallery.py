"""An image command (`siamkit identify`, `enroll`, `verify`) given a gallery that `siamkit text
enroll` filled refused it saying "its images cannot be compared with another model's", though
the gallery holds texts; it now says texts, and names the command that searches them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image
from test_text_identify_cli import TICKETS, enroll, tiny_model

import siamkit
from siamkit.cli.main import cli


def test_an_image_model_on_a_text_gallery_is_told_it_holds_texts(tiny_hf, tmp_path):
    text_model = tiny_model(tiny_hf, tmp_path / "text")
    gallery = enroll(tmp_path, text_model, TICKETS)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    images = siamkit.save_model(siamkit.SiameseNetwork(enc, 4, preprocess=pre), tmp_path / "img")
    png = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(png)
    said = (
        f"Error: {gallery} was enrolled with the model in {Path(text_model).resolve()}, not "
        f"{images}, and its texts cannot be compared with another model's: search them with "
        f"`siamkit text identify --gallery {gallery} TEXT` (it uses that model), or enroll your "
        "images into a new gallery file."
    )
    for args in (
        ["identify", images, "--gallery", gallery, png],
        ["enroll", images, "--gallery", gallery, "--label", "bob", png],
        ["verify", images, png, "--gallery", gallery, "--label", "T-1"],
    ):
        res = CliRunner().invoke(cli, [str(a) for a in args])
        assert res.exit_code == 1, res.output
        assert res.output.strip() == said
    Path(text_model).rename(tmp_path / "moved")  # gone: its side file still says texts
    res = CliRunner().invoke(cli, ["identify", str(images), "--gallery", str(gallery), str(png)])
    assert res.exit_code == 1 and "which no longer exists, and its texts cannot" in res.output
    assert "siamkit text identify --gallery" in res.output
