"""The JSON endpoints against in-process references computed with the same model."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from _service_helpers import API_KEY, as_tensor, pattern, png_bytes
from PIL import Image

ENDPOINTS = [
    ("post", "/enroll"),
    ("post", "/verify"),
    ("post", "/identify"),
    ("post", "/embed"),
    ("get", "/gallery"),
    ("delete", "/gallery/alice"),
    ("get", "/info"),
]


def _files(field: str, *kinds: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(field, (f"{k}.png", png_bytes(pattern(k)), "image/png")) for k in kinds]


def _embed(model, *kinds: str) -> torch.Tensor:
    with torch.inference_mode():
        return model.embed(torch.cat([as_tensor(pattern(k)) for k in kinds]))


def _dist(a: torch.Tensor, b: torch.Tensor) -> float:
    """Euclidean distance written out, independent of siamkit's distance code."""
    return float(((a - b) ** 2).sum().sqrt())


# ------------------------------------------------------------------------------------ auth
def test_health_needs_no_key_and_says_a_key_is_needed(client_factory):
    client = client_factory()
    client.headers.pop("X-API-Key")
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["auth_required"] is True


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("key", [None, "wrong", API_KEY + "x", ""])
def test_every_endpoint_but_health_needs_the_key(client_factory, method, path, key):
    client = client_factory()
    client.headers.pop("X-API-Key")
    headers = {} if key is None else {"X-API-Key": key}
    r = client.request(method, path, headers=headers)
    assert r.status_code == 401
    assert "X-API-Key" in r.json()["detail"]


def test_right_key_passes_and_no_key_configured_means_open(client_factory):
    assert client_factory().get("/gallery").status_code == 200
    open_client = client_factory(api_key=None)
    assert open_client.get("/gallery").status_code == 200
    assert open_client.get("/health").json()["auth_required"] is False


def test_create_app_refuses_a_blank_key(model, tmp_path):
    from siamkit.service import create_app

    with pytest.raises(ValueError, match="API key"):
        create_app(model, tmp_path / "g.db", api_key="  ")


# ------------------------------------------------------------------------------- endpoints
def test_verify_pair_matches_the_in_process_distance(client, model):
    r = client.post("/verify", files=_files("file_a", "stripes") + _files("file_b", "disc"))
    assert r.status_code == 200, r.text
    body = r.json()
    z = _embed(model, "stripes", "disc")
    assert body["distance"] == pytest.approx(_dist(z[0], z[1]), abs=1e-5)
    assert body["threshold"] == model.threshold
    assert body["same"] == (body["distance"] <= model.threshold)
    assert body["label"] is None


def test_enroll_then_identify_and_verify_against_naive_search(client, model):
    r = client.post("/enroll", data={"label": "alice"}, files=_files("files", "stripes", "disc"))
    assert r.status_code == 201, r.text
    assert r.json()["count"] == 2 and len(r.json()["item_ids"]) == 2
    r2 = client.post("/enroll", data={"label": " bob "}, files=_files("files", "checker"))
    assert r2.json()["label"] == "bob"  # outer spaces dropped
    assert (
        client.post("/enroll", data={"label": "alice"}, files=_files("files", "noise")).json()[
            "count"
        ]
        == 3
    )

    enrolled = {"alice": ["stripes", "disc", "noise"], "bob": ["checker"]}
    query = _embed(model, "stripes")[0]
    # naive 1:N: per label, the closest enrolled image
    best = {
        label: min(_dist(query, z) for z in _embed(model, *kinds))
        for label, kinds in enrolled.items()
    }
    r = client.post("/identify", data={"k": "5"}, files=_files("file", "stripes"))
    assert r.status_code == 200, r.text
    matches = r.json()["matches"]
    assert [m["label"] for m in matches] == sorted(best, key=best.get)
    for m in matches:
        assert m["distance"] == pytest.approx(best[m["label"]], abs=1e-3)
        assert m["accepted"] == (m["distance"] <= model.threshold)
        assert m["thumbnail"].startswith("data:image/png;base64,")
    assert r.json()["label"] == ("alice" if matches[0]["accepted"] else None)

    r = client.post("/verify", data={"label": "bob"}, files=_files("file", "stripes"))
    assert r.json()["label"] == "bob"
    assert r.json()["distance"] == pytest.approx(best["bob"], abs=1e-5)


def test_enrolling_an_image_again_skips_it_and_says_how_many(client):
    """A re-enrollment that stored nothing answered 201 Created: now 200, saying so."""

    def enroll(label, *kinds, status=201):
        r = client.post("/enroll", data={"label": label}, files=_files("files", *kinds))
        assert r.status_code == status, r.text
        return r.json()

    first = enroll("alice", "stripes")
    assert first["skipped"] == 0 and first["already_enrolled"] is False
    assert enroll("alice", "stripes", status=200) == {
        "label": "alice",
        "item_ids": [],
        "count": 1,
        "skipped": 1,
        "already_enrolled": True,
    }
    more = enroll("alice", "disc", "stripes", "disc")  # new, enrolled before, sent twice
    assert len(more["item_ids"]) == 1 and more["skipped"] == 2 and more["count"] == 2
    assert more["already_enrolled"] is False  # one new image: created
    assert enroll("bob", "stripes")["skipped"] == 0  # a repeat is per label
    assert client.get("/gallery").json()["num_items"] == 3
    images = client.get("/gallery/images", params={"label": "alice"}).json()["images"]
    kept = first["item_ids"] + more["item_ids"]
    assert [i["item_id"] for i in images] == kept  # a thumbnail for each image kept, no other
    schema = client.get("/openapi.json").json()["components"]["schemas"]["EnrollResponse"]
    assert "skipped" in schema["required"]
    assert "already holds" in schema["properties"]["skipped"]["description"]
    assert "already_enrolled" in schema["required"]
    answers = client.get("/openapi.json").json()["paths"]["/enroll"]["post"]["responses"]
    assert {"200", "201"} <= set(answers) and "nothing was stored" in answers["200"]["description"]


def test_identify_k_limits_the_labels_and_empty_gallery_has_no_matches(client):
    """On an empty gallery the null label read as "unknown": a hint says to enroll first
    (status and fields unchanged), and only there."""
    r = client.post("/identify", files=_files("file", "disc"))
    assert r.status_code == 200 and r.json() == {
        "threshold": 0.5,
        "label": None,
        "matches": [],
        "hint": "The gallery is empty, so nothing can match: POST /enroll labelled images first.",
    }
    for label, kind in (("a", "stripes"), ("b", "checker"), ("c", "disc")):
        client.post("/enroll", data={"label": label}, files=_files("files", kind))
    r = client.post("/identify", data={"k": "2"}, files=_files("file", "disc"))
    assert len(r.json()["matches"]) == 2 and "hint" not in r.json()


def test_verify_against_a_label_on_an_empty_gallery_says_to_enroll_first(client):
    r = client.post("/verify", data={"label": "bob"}, files=_files("file", "disc"))
    assert r.status_code == 404
    assert r.json()["detail"].endswith(", which is empty: POST /enroll images under it first.")
    client.post("/enroll", data={"label": "alice"}, files=_files("files", "stripes"))
    r = client.post("/verify", data={"label": "bob"}, files=_files("file", "disc"))
    assert r.status_code == 404  # how to add it, no longer "first"
    assert r.json()["detail"].endswith("; POST /enroll images under it to add it.")


def test_embed_matches_model_embed(client, model):
    r = client.post("/embed", files=_files("files", "stripes", "checker"))
    assert r.status_code == 200, r.text
    got = torch.tensor(r.json()["embeddings"])
    torch.testing.assert_close(got, _embed(model, "stripes", "checker"), atol=1e-6, rtol=1e-5)
    assert r.json()["dim"] == 16 and r.json()["distance"] == "euclidean"


def test_rgb_and_large_uploads_are_converted_like_the_library(client, model):
    """An RGB 56×56 JPEG is read as grey and resized, exactly as load_images does."""
    from siamkit.data.image_io import load_images

    rgb = np.stack([pattern("disc", size=56)] * 3, axis=-1)
    data = png_bytes(rgb, fmt="JPEG")
    r = client.post("/embed", files=[("files", ("x.jpg", data, "image/jpeg"))])
    want = model.embed(load_images([data], (1, 28, 28))).detach()
    torch.testing.assert_close(torch.tensor(r.json()["embeddings"]), want, atol=1e-6, rtol=1e-5)


def test_gallery_lists_labels_with_thumbnails_and_delete_removes(client):
    client.post("/enroll", data={"label": "alice"}, files=_files("files", "stripes", "disc"))
    client.post("/enroll", data={"label": "bob"}, files=_files("files", "checker"))
    body = client.get("/gallery").json()
    assert body["num_labels"] == 2 and body["num_items"] == 3
    assert [(e["label"], e["count"]) for e in body["labels"]] == [("alice", 2), ("bob", 1)]
    thumb = body["labels"][0]["thumbnail"].removeprefix("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(thumb)))
    np.testing.assert_array_equal(np.asarray(img), pattern("stripes"))  # lossless, first image

    r = client.delete("/gallery/alice")
    assert r.status_code == 200 and r.json() == {"label": "alice", "removed": 2}
    assert [e["label"] for e in client.get("/gallery").json()["labels"]] == ["bob"]
    matches = client.post("/identify", files=_files("file", "stripes")).json()["matches"]
    assert [m["label"] for m in matches] == ["bob"]


def test_label_with_slash_and_unicode_round_trips(client):
    label = "team/ops é"
    client.post("/enroll", data={"label": label}, files=_files("files", "disc"))
    assert client.get("/gallery").json()["labels"][0]["label"] == label
    r = client.delete("/gallery/team%2Fops%20%C3%A9")
    assert r.status_code == 200 and r.json()["removed"] == 1


def test_info_reports_model_and_limits(client, model):
    body = client.get("/info").json()
    assert body["model"]["embedding_dim"] == 16
    assert body["model"]["input_shape"] == [1, 28, 28]
    assert body["model"]["threshold"] == model.threshold
    assert body["model"]["towers"] == 1  # a half-twin's is 2: tests/index/test_half_twin_roles
    assert body["limits"]["max_k"] == 100


def test_info_names_the_model_served(client_factory):
    """The page showed the threshold but never which model it serves: /info names it."""
    assert client_factory().get("/info").json()["model"]["name"] is None
    named = client_factory(model_name="runs/shoes/model").get("/info").json()
    assert named["model"]["name"] == "runs/shoes/model"


def test_gallery_of_another_model_is_refused(tmp_path, model):
    from _service_helpers import make_model

    from siamkit.index import Gallery, GalleryMismatchError
    from siamkit.service import create_app

    create_app(model, tmp_path / "g.db")
    with Gallery.open(tmp_path / "g.db", model) as g:  # one that holds no item takes any model
        g.enroll("alice", as_tensor(pattern("stripes")))
    other = make_model()
    with torch.no_grad():
        next(other.parameters()).add_(1.0)
    with pytest.raises(GalleryMismatchError):
        create_app(other, tmp_path / "g.db")


def test_vector_models_are_refused(tmp_path):
    import siamkit
    from siamkit.service import create_app

    enc = siamkit.encoders.create_encoder("mlp", in_features=8, hidden=(16,))
    pre = siamkit.models.Preprocess(input_shape=(8,))
    net = siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre)
    with pytest.raises(ValueError, match="image models"):
        create_app(net, tmp_path / "g.db")


def test_page_docs_and_static_files_are_served_with_security_headers(client):
    client.headers.pop("X-API-Key")
    for path in (
        "/",
        "/docs",
        "/static/common.js",
        "/static/app.js",
        "/static/app.css",
        "/openapi.json",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in r.headers["content-security-policy"]
    page = client.get("/").text
    assert page.index("/static/common.js") < page.index("/static/app.js")  # helpers load first
    assert "http://" not in page and "https://" not in page  # nothing from a CDN
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/enroll", "/verify", "/identify", "/embed", "/gallery", "/health"} <= set(paths)
