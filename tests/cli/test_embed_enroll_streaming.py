"""siamkit embed / enroll of a large folder read and embed a chunk of images at a time: they
held every image's pixels before the first was embedded, so 20,000 RGB photos at a model's
224 x 224 took 12 GB (and twice that while stacked) before any work began. Every file is still
read once first, so an unreadable one is refused before any work (see
test_embed_enroll_unreadable_images.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
import siamkit.data.image_io as image_io
import siamkit.encode as encode_module
from siamkit.cli.main import cli
from siamkit.index import Gallery


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, Path]:
    """A tiny model and a folder of 300 8x8 photos of two labels."""
    enc = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=[4])
    model = siamkit.save_model(
        siamkit.SiameseNetwork(
            enc, embedding_dim=4, preprocess=siamkit.Preprocess(input_shape=(3, 8, 8))
        ),
        tmp_path / "m",
    )
    rng = np.random.default_rng(0)
    for label in ("bag", "boot"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(150):
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / label / f"{i:03d}.png")
    return {"model": model, "photos": tmp_path / "photos", "root": tmp_path}


def _events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A log of "read NAME" (an image file decoded) and "embed" (a batch embedded)."""
    events: list[str] = []
    real_embed = encode_module._embed_batch
    real_reads = {f: getattr(image_io, f) for f in ("read_image", "read_image_resized")}

    def spy(real):
        def read(source, *args, **kwargs):
            events.append(f"read {Path(source).parent.name}/{Path(source).name}")
            return real(source, *args, **kwargs)

        return read

    def embed(*args, **kwargs):
        events.append("embed")
        return real_embed(*args, **kwargs)

    for name, real in real_reads.items():  # the check of every file, then each chunk's read
        monkeypatch.setattr(image_io, name, spy(real))
    monkeypatch.setattr(encode_module, "_embed_batch", embed)
    return events


def _run(args: list[object]) -> str:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def _read_after_first_embedding(events: list[str], name: str) -> bool:
    first = events.index("embed")
    return any(e == f"read {name}" for e in events[first:])


def test_embed_reads_the_last_images_after_embedding_the_first(shop, monkeypatch) -> None:
    events = _events(monkeypatch)
    out = shop["root"] / "z.npy"
    _run(["embed", shop["model"], shop["photos"], "--out", out, "--batch-size", "16"])
    assert _read_after_first_embedding(events, "boot/149.png")
    z = np.load(out)
    monkeypatch.undo()  # the same embeddings as all images at once
    whole = siamkit.load_model(shop["model"])
    files = sorted(shop["photos"].rglob("*.png"))
    x = image_io.load_images(files, (3, 8, 8))
    assert np.allclose(z, siamkit.encode.encode(whole, x).numpy(), atol=1e-6)
    assert (shop["root"] / "z.ids.txt").read_text().splitlines() == [str(p) for p in files]


def test_enroll_reads_the_last_images_after_embedding_the_first(shop, monkeypatch) -> None:
    events = _events(monkeypatch)
    db = shop["root"] / "shop.db"
    doc = json.loads(_run(["enroll", shop["model"], "--gallery", db, shop["photos"], "--json"]))
    assert _read_after_first_embedding(events, "boot/149.png")
    monkeypatch.undo()
    # an untrained 4-d model gives some random 8x8 images one embedding: skipped as repeats
    assert doc["num_items"] + doc["skipped_already_enrolled"] == 300
    with Gallery.open(db) as gallery:
        assert len(gallery) == doc["num_items"]
        assert gallery.sources([1])[1].endswith("bag/000.png")
