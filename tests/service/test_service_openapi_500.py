"""Every endpoint that runs the model answers its NaN or infinite embeddings with a 500 whose
body says so in a sentence (``siamkit.service.errors._on_unrankable``), yet the OpenAPI docs
listed 500 on no route, so a client generated from them had none to expect (s54_RR1). Each such
route lists it, with the body it sends (``detail`` and ``request_id``); the others do not."""

from __future__ import annotations

import warnings

import pytest
from _service_helpers import make_model, pattern, png_bytes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.service import create_app

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
FILLED = {"/gallery/items/{item_id}": "/gallery/items/99", "/gallery/{label}": "/gallery/zz"}
RUNS_THE_MODEL = {
    ("post", "/enroll"),
    ("post", "/verify"),
    ("post", "/identify"),
    ("post", "/embed"),
}


def _listed(spec: dict, code: str) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {
        (method, path)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if code in op.get("responses", {})
    }


def test_the_routes_that_answer_a_models_nan_with_500_list_it(tmp_path):
    model = make_model()
    app = create_app(model, tmp_path / "shop.db", api_key=None)
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.post("/enroll", data={"label": "a"}, files={"files": ("a.png", PNG)})
        assert first.status_code == 201, first.text
        spec = client.get("/openapi.json").json()
        hook = model.encoder.register_forward_hook(lambda m, i, o: o * float("nan"))
        try:
            answered = {
                (method, path): client.request(method.upper(), FILLED.get(path, path), **kwargs)
                for (method, path), kwargs in REQUESTS.items()
            }
        finally:
            hook.remove()
    served = {(method, path) for path, methods in spec["paths"].items() for method in methods}
    assert served == set(REQUESTS), served ^ set(REQUESTS)  # a new endpoint is tried here too
    gave_500 = {key for key, answer in answered.items() if answer.status_code == 500}
    assert gave_500 == RUNS_THE_MODEL, {k: a.text for k, a in answered.items()}
    assert _listed(spec, "500") == gave_500
    schema = spec["components"]["schemas"]["ServerErrorResponse"]
    for method, path in gave_500:
        body = answered[method, path].json()
        assert "NaN or infinite values" in body["detail"], body
        assert set(body) == set(schema["properties"]), (body, schema)  # the body as documented
        said = spec["paths"][path][method]["responses"]["500"]
        assert "NaN or infinite values" in said["description"]
        # a 500 is also the generic 'Internal error' of any other fault (ServerErrorResponse)
        assert "'Internal error'" in said["description"]
        assert said["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ServerErrorResponse"
        }


def test_the_text_services_routes_that_embed_list_the_500_too(tmp_path):
    """The text service's routes embed with the same check and answer through the same handler."""
    pytest.importorskip("transformers", reason="the text extra is not installed")
    from _tiny_bert import save_tiny_bert
    from siamkit.applications.text import load_text_model

    model = load_text_model(save_tiny_bert(tmp_path / "bert", layers=1))
    with TestClient(create_app(model, tmp_path / "g.db")) as client:
        spec = client.get("/openapi.json").json()
    assert _listed(spec, "500") == RUNS_THE_MODEL
