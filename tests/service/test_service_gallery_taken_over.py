"""A running service whose gallery holds no item, taken over by ``siamkit enroll`` of another
model (a gallery that holds no item takes any model): its next ``/enroll`` is refused in a
sentence with 409, where it was a 500 "Internal error" (the gallery's GalleryMismatchError);
so are its searches and its label listing, which searched the other model's embeddings with
its own (the same size: wrong matches, no error) or failed deep in the index (another size)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
import torch
from _service_helpers import make_model, pattern, png_bytes
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli
from siamkit.index import Gallery

TAKEN_OVER = (
    "The gallery held no item and was taken over by another model (an enrollment with it, such "
    "as siamkit enroll's) while this service had it open, so this service's model cannot "
    "search it, enroll into it or remove from it; nothing was changed: serve that model, or "
    "restart the service with a new --gallery file."
)


def test_an_enroll_after_another_model_took_the_empty_gallery_over_is_a_409(
    client, tmp_path: Path, siamkit_log
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
    assert r.json() == {"detail": TAKEN_OVER}
    assert str(tmp_path) not in r.text  # the server's paths stay in its log
    assert "taken over by another model" in siamkit_log.text and str(db) in siamkit_log.text
    assert "Traceback" not in siamkit_log.text  # a refusal, not a failure
    with contextlib.closing(sqlite3.connect(db)) as conn:  # bob's item, and no alice
        assert conn.execute("SELECT label FROM items").fetchall() == [("bob",)]


@pytest.mark.parametrize("dim", [16, 8], ids=["same-size", "other-size"])
def test_searches_after_another_model_took_the_empty_gallery_over_are_a_409(
    client, tmp_path: Path, siamkit_log, dim: int
) -> None:
    """The service's model is 16-d: another of the same size (other weights) was searched with
    it, wrong matches and no error; another size failed with a 500 deep in the index."""
    other = make_model()
    if dim == 16:
        torch.manual_seed(7)  # the same architecture, other weights: another fingerprint
        for p in other.parameters():
            torch.nn.init.normal_(p)
    else:
        torch.manual_seed(5)
        enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8,))
        pre = siamkit.models.Preprocess(input_shape=(1, 28, 28))
        other = siamkit.SiameseNetwork(enc, embedding_dim=dim, preprocess=pre).eval()
    stripes = png_bytes(pattern("stripes"))
    # the client's gallery, which holds no item, taken over as siamkit enroll takes it
    with Gallery.open(tmp_path / "gallery0.db", other) as g:
        image = torch.from_numpy(pattern("stripes")).float().div(255)[None, None]
        g.enroll("bob", image)
    r = client.post("/identify", files={"file": ("q.png", stripes, "image/png")})
    assert r.status_code == 409, r.text
    assert r.json() == {"detail": TAKEN_OVER}  # no match with bob, the other model's item
    one = {"file": ("q.png", stripes, "image/png")}
    r = client.post("/verify", data={"label": "bob"}, files=one)
    assert (r.status_code, r.json()) == (409, {"detail": TAKEN_OVER})
    r = client.post("/recommend", json={"like": ["bob"], "k": 3})
    assert (r.status_code, r.json()) == (409, {"detail": TAKEN_OVER})
    r = client.get("/gallery")
    assert (r.status_code, r.json()) == (409, {"detail": TAKEN_OVER})
    for path in ("/gallery/bob", "/gallery/items/1"):  # the other model's, not to remove
        r = client.delete(path)
        assert (r.status_code, r.json()) == (409, {"detail": TAKEN_OVER}), path
    assert "taken over by another model" in siamkit_log.text
    assert "Traceback" not in siamkit_log.text  # refusals, not failures
    with contextlib.closing(sqlite3.connect(tmp_path / "gallery0.db")) as conn:
        assert conn.execute("SELECT id, label FROM items").fetchall() == [(1, "bob")]


def test_the_openapi_409_names_a_taken_over_gallery(client) -> None:
    spec = client.get("/openapi.json").json()
    said = spec["paths"]["/identify"]["post"]["responses"]["409"]["description"]
    assert "started without a gallery" in said and "taken over by another model" in said
    assert "the model it recorded enrolled items into it before" in said
    said = spec["paths"]["/verify"]["post"]["responses"]["409"]["description"]
    assert "taken over by another model" in said


RECORDED_MODEL_ENROLLED = (
    "The gallery held no item when this service opened it with its model, which was to take "
    "it over at its first enrollment, but the model the gallery records enrolled items into it "
    "since (an enrollment with it, such as siamkit enroll's), so this service's model cannot "
    "search it, enroll into it or remove from it; nothing was changed: serve that model, or "
    "restart the service with a new --gallery file."
)


def test_the_recorded_models_enrollment_before_the_services_is_a_409_saying_so(
    client_factory, tmp_path: Path, siamkit_log
) -> None:
    """The service opened a gallery that held no item and recorded another model (every label
    removed), to take it over at its first enrollment; that model enrolled first. Nothing was
    taken over by 'another model': the gallery still records the model it recorded."""
    torch.manual_seed(5)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8,))
    pre = siamkit.models.Preprocess(input_shape=(1, 28, 28))
    other = siamkit.SiameseNetwork(enc, embedding_dim=8, preprocess=pre).eval()
    image = torch.from_numpy(pattern("stripes")).float().div(255)[None, None]
    with Gallery.open(tmp_path / "gallery0.db", other) as g:  # the client's gallery, emptied
        g.enroll("gone", image)
        g.remove("gone")
    client = client_factory()
    with Gallery.open(tmp_path / "gallery0.db", other) as g:
        g.enroll("bob", image)
    r = client.get("/gallery")
    assert (r.status_code, r.json()) == (409, {"detail": RECORDED_MODEL_ENROLLED})
    files = [("files", ("stripes.png", png_bytes(pattern("stripes")), "image/png"))]
    r = client.post("/enroll", data={"label": "alice"}, files=files)
    assert (r.status_code, r.json()) == (409, {"detail": RECORDED_MODEL_ENROLLED})
    assert "enrolled items since" in siamkit_log.text
    with contextlib.closing(sqlite3.connect(tmp_path / "gallery0.db")) as conn:
        assert conn.execute("SELECT label FROM items").fetchall() == [("bob",)]
