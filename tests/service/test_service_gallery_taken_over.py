"""A running service whose gallery holds no item, taken over by ``siamkit enroll`` of another
model (a gallery that holds no item takes any model): its next ``/enroll`` is refused in a
sentence with 409, where it was a 500 "Internal error" (the gallery's GalleryMismatchError)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import torch
from _service_helpers import pattern, png_bytes
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli


def test_an_enroll_after_another_model_took_the_empty_gallery_over_is_a_409(
    client, tmp_path: Path, caplog
) -> None:
    torch.manual_seed(5)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8,))
    pre = siamkit.models.Preprocess(input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(enc, embedding_dim=8, preprocess=pre).eval()
    other = siamkit.save_model(net, tmp_path / "other")
    (tmp_path / "photos" / "bob").mkdir(parents=True)
    Image.fromarray(pattern("disc")).save(tmp_path / "photos" / "bob" / "disc.png")
    db = tmp_path / "gallery0.db"  # the client's gallery, which holds no item yet
    res = CliRunner().invoke(
        cli, ["enroll", str(other), "--gallery", str(db), str(tmp_path / "photos")]
    )
    assert res.exit_code == 0, res.output
    files = [("files", ("stripes.png", png_bytes(pattern("stripes")), "image/png"))]
    r = client.post("/enroll", data={"label": "alice"}, files=files)
    assert r.status_code == 409, r.text
    assert r.json() == {
        "detail": "The gallery held no item and was taken over by another model (an enrollment "
        "with it, such as siamkit enroll's) while this service had it open; nothing was "
        "changed: serve that model, or restart the service with a new --gallery file."
    }
    assert str(tmp_path) not in r.text  # the server's paths stay in its log
    assert "taken over by another model" in caplog.text and str(db) in caplog.text
    assert "Traceback" not in caplog.text  # a refusal, not a failure
    with contextlib.closing(sqlite3.connect(db)) as conn:  # bob's item, and no alice
        assert conn.execute("SELECT label FROM items").fetchall() == [("bob",)]
