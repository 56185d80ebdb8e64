"""What the web page and the API docs rely on: margins, a label's images, the embedding's parts,
per-route documented errors, messages in words, and Swagger UI served from installed files."""

from __future__ import annotations

import torch
from _service_helpers import as_tensor, pattern, png_bytes

import siamkit
from siamkit.heads import AppearanceFeatures


def _file(field: str, kind: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(field, (f"{kind}.png", png_bytes(pattern(kind)), "image/png"))]


def _distance(model, a: str, b: str) -> float:
    with torch.inference_mode():
        return float(model(as_tensor(pattern(a)), as_tensor(pattern(b)))[0])


def test_verify_and_identify_report_the_margin_to_the_threshold(client, model):
    client.post("/enroll", data={"label": "alice"}, files=_file("files", "stripes"))
    r = client.post("/verify", files=_file("file_a", "stripes") + _file("file_b", "disc")).json()
    want = model.threshold - _distance(model, "stripes", "disc")
    assert abs(r["margin"] - want) < 1e-5 and r["same"] is (want >= 0)
    r = client.post("/verify", data={"label": "alice"}, files=_file("file", "stripes")).json()
    assert r["same"] is True and abs(r["margin"] - model.threshold) < 1e-5  # identical image
    r = client.post("/identify", files=_file("file", "disc")).json()
    m = r["matches"][0]
    assert r["threshold"] == model.threshold
    assert abs(m["margin"] - (model.threshold - m["distance"])) < 1e-6
    assert m["accepted"] is (m["margin"] >= 0)


def test_a_labels_images_are_listed_as_thumbnails(client):
    client.post(
        "/enroll", data={"label": "bob"}, files=_file("files", "checker") + _file("files", "disc")
    )
    r = client.get("/gallery/images", params={"label": "bob"})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 2 and len(body["images"]) == 2
    assert all(i["thumbnail"].startswith("data:image/png;base64,") for i in body["images"])
    missing = client.get("/gallery/images", params={"label": "nobody"})
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
    # it named no label, where DELETE /gallery/{label} and /verify name the closest ones
    missing = client.get("/gallery/images", params={"label": "Bob"})
    assert missing.json()["detail"] == (
        "Label 'Bob' is not in the gallery (did you mean 'bob'?); POST /enroll images under it "
        "to add it."
    )
    client.delete("/gallery/bob")
    assert client.get("/gallery/images", params={"label": "bob"}).status_code == 404


def test_info_explains_what_the_embedding_is_made_of(client_factory, tmp_path):
    plain = client_factory().get("/info").json()["model"]
    assert plain["embedding_parts"] == [
        {"name": "learned", "dim": 16, "description": plain["embedding_parts"][0]["description"]}
    ]
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 28, 28))
    features = AppearanceFeatures(pool=4, features="hog")
    learned = siamkit.SiameseNetwork(enc, 16, preprocess=pre)
    net = siamkit.JoinedEmbedding(learned, features, 0.5).eval()
    extra = features.extra_dim((1, 28, 28))
    from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(net, tmp_path / "hog.db")) as client:
        model = client.get("/info").json()["model"]
    parts = {p["name"]: p for p in model["embedding_parts"]}
    assert model["embedding_dim"] == net.embedding_dim == 16 + extra
    assert parts["learned"]["dim"] == 16 and parts["appearance"]["dim"] == extra
    assert "HOG" in parts["appearance"]["description"]


def test_each_route_documents_its_own_errors(client):
    paths = client.get("/openapi.json").json()["paths"]

    def codes(path: str, method: str) -> set[str]:
        return {c for c in paths[path][method]["responses"] if c[0] in "45"}

    assert "404" in codes("/verify", "post") and "404" not in codes("/identify", "post")
    assert "413" in codes("/embed", "post") and "413" not in codes("/gallery", "get")
    assert "409" not in codes("/embed", "post") and "409" in codes("/enroll", "post")
    assert codes("/info", "get") == {"401", "409", "422", "503"}  # 422: a query; 409: taken over
    assert "takes none" in paths["/info"]["get"]["responses"]["422"]["description"]
    assert len({frozenset(codes(p, m)) for p in paths for m in paths[p]}) >= 5
    verify_404 = paths["/verify"]["post"]["responses"]["404"]["description"]
    assert "label" in verify_404


def test_identify_refuses_a_non_finite_distance_in_words(client, monkeypatch):
    # a model that yields NaN distances (a broken checkpoint): a sentence, not a match without one
    from siamkit.index import IdentifyResult, Match

    nan = IdentifyResult(matches=[Match("alice", float("nan"), 1, True)], label="alice")
    monkeypatch.setattr(client.app.state.engine, "identify", lambda x, k, name: (nan, {}))
    r = client.post("/identify", files=_file("file", "disc"))
    assert r.status_code == 400
    assert r.json()["detail"] == "The distance is not a finite number for these images."


def test_validation_errors_are_sentences_in_words(client):
    r = client.post("/verify", files=_file("file_a", "disc"))
    assert r.status_code == 422
    r = client.post("/identify", data={"k": "abc"}, files=_file("file", "disc")).json()
    assert r["detail"] == ("The number of matches (k) must be a whole number (integer), such as 5.")
    assert r["errors"] == [{"field": "k", "message": r["errors"][0]["message"]}]
    r = client.post("/enroll", data={"label": "x"}).json()
    assert r["detail"] == "Choose the images (files): it is required."
    assert "Input should" not in r["detail"] and "Field required" not in r["detail"]


def test_swagger_ui_is_served_from_installed_files(client):
    client.headers.pop("X-API-Key")
    page = client.get("/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in page and "https://" not in page
    js = client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and "SwaggerUIBundle" in js.text
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
