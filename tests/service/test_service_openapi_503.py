"""Every endpoint that reads or writes the gallery can answer 503 (the gallery busy past
SQLite's wait or the disk full, with ``Retry-After``; or its files damaged, unreadable or not
writable, without), yet the OpenAPI docs listed 503 on no route, so a client generated from
them had none to expect. Each such route lists it, with the header; the others do not."""

from __future__ import annotations

import sqlite3
import warnings
from contextlib import contextmanager

import pytest
from _service_helpers import make_model, pattern, png_bytes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.service import create_app
from siamkit.service.errors import RETRY_AFTER_S

PNG = png_bytes(pattern("noise"))
ONE = {"file": ("q.png", PNG, "image/png")}
REQUESTS = {  # every image-service endpoint, as a client sends it
    ("post", "/enroll"): {"data": {"label": "b"}, "files": {"files": ("x.png", PNG, "image/png")}},
    ("post", "/verify"): {"data": {"label": "a"}, "files": ONE},
    ("post", "/identify"): {"files": ONE},
    ("post", "/recommend"): {"json": {"like": ["a"]}},
    ("get", "/gallery"): {},
    ("get", "/gallery/images"): {"params": {"label": "a"}},
    ("delete", "/gallery/items/{item_id}"): {},
    ("delete", "/gallery/{label}"): {},
    ("get", "/info"): {},
    ("post", "/embed"): {"files": {"files": ("x.png", PNG, "image/png")}},
    ("get", "/health"): {},
}
FILLED = {"/gallery/items/{item_id}": "/gallery/items/1", "/gallery/{label}": "/gallery/a"}


def test_the_routes_that_answer_503_list_it_in_the_openapi_docs(tmp_path):
    app = create_app(make_model(), tmp_path / "shop.db")
    with TestClient(app) as client:
        first = client.post("/enroll", data={"label": "a"}, files={"files": ("a.png", PNG)})
        assert first.status_code == 201, first.text
        spec = client.get("/openapi.json").json()
        store = app.state.engine.gallery._store

        @contextmanager
        def busy(*args, **kwargs):
            err = sqlite3.OperationalError("database is locked")
            err.sqlite_errorname = "SQLITE_BUSY"  # as sqlite3 sets it
            raise err
            yield  # pragma: no cover

        store._locked = busy  # every read and write of the store waits for its lock here
        answered = {}
        for (method, path), kwargs in REQUESTS.items():
            answer = client.request(method.upper(), FILLED.get(path, path), **kwargs)
            answered[method, path] = answer
    documented = {
        (method, path)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if "503" in op.get("responses", {})
    }
    served = {(method, path) for path, methods in spec["paths"].items() for method in methods}
    assert served == set(REQUESTS), served ^ set(REQUESTS)  # a new endpoint is tried here too
    gave_503 = {key for key, answer in answered.items() if answer.status_code == 503}
    assert gave_503 == documented, (gave_503 ^ documented, {k: a.text for k, a in answered.items()})
    assert gave_503 == set(REQUESTS) - {("post", "/embed"), ("get", "/health")}
    for key in gave_503:
        assert answered[key].headers["Retry-After"] == str(RETRY_AFTER_S)
        method, path = key
        said = spec["paths"][path][method]["responses"]["503"]
        assert "Retry-After" in said["headers"] and "Without Retry-After" in said["description"]
        assert said["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }


def test_the_text_services_gallery_routes_list_the_503_too(tmp_path):
    """The text service's routes read and write the same gallery through the same handlers: each
    that can find no gallery (its 409) can find it busy or unwritable (its 503)."""
    pytest.importorskip("transformers", reason="the text extra is not installed")
    from _tiny_bert import save_tiny_bert
    from siamkit.applications.text import load_text_model

    model = load_text_model(save_tiny_bert(tmp_path / "bert", layers=1))
    with TestClient(create_app(model, tmp_path / "g.db")) as client:
        spec = client.get("/openapi.json").json()
    listed = {
        (method, path): set(op["responses"])
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    }
    gallery = {key for key, codes in listed.items() if "409" in codes}
    assert {("post", "/enroll"), ("post", "/identify"), ("get", "/gallery")} <= gallery
    assert {key for key, codes in listed.items() if "503" in codes} == gallery
    for method, path in gallery:
        assert "Retry-After" in spec["paths"][path][method]["responses"]["503"]["headers"]
