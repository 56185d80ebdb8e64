"""What the OpenAPI 500 and 503 tests share: every image-service endpoint as a client sends it,
a served gallery holding one item, and the check that a status the routes answered is the one
their OpenAPI entries list, with the body's schema (``test_service_openapi_500.py``,
``test_service_openapi_503.py``)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _service_helpers import pattern, png_bytes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.service import create_app

PNG = png_bytes(pattern("noise"))
ONE = {"file": ("q.png", PNG, "image/png")}
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {  # every image-service endpoint
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


def listed(spec: dict[str, Any], code: str) -> set[tuple[str, str]]:
    """The (method, path) of every route whose OpenAPI entry lists ``code``."""
    return {
        (method, path)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if code in op.get("responses", {})
    }


@contextmanager
def one_item_served(app: Any, **client: Any) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """A client of ``app`` whose gallery holds one item labelled 'a', and its OpenAPI docs."""
    with TestClient(app, **client) as served:
        first = served.post("/enroll", data={"label": "a"}, files={"files": ("a.png", PNG)})
        assert first.status_code == 201, first.text
        yield served, served.get("/openapi.json").json()


def ask_every_route(client: TestClient, filled: dict[str, str]) -> dict[tuple[str, str], Any]:
    """Each endpoint's answer to its request in :data:`REQUESTS`, ``filled`` giving the path
    sent for a templated one."""
    return {
        (method, path): client.request(method.upper(), filled.get(path, path), **kwargs)
        for (method, path), kwargs in REQUESTS.items()
    }


def check_listed_as_answered(
    spec: dict[str, Any], answered: dict[tuple[str, str], Any], code: int, schema: str
) -> set[tuple[str, str]]:
    """Check that every endpoint was tried, and that the routes that answered ``code`` are the
    ones whose OpenAPI entry lists it, with ``schema`` as its body; return them."""
    served = {(method, path) for path, methods in spec["paths"].items() for method in methods}
    assert served == set(REQUESTS), served ^ set(REQUESTS)  # a new endpoint is tried here too
    gave = {key for key, answer in answered.items() if answer.status_code == code}
    documented = listed(spec, str(code))
    assert gave == documented, (gave ^ documented, {k: a.text for k, a in answered.items()})
    for method, path in gave:
        said = spec["paths"][path][method]["responses"][str(code)]
        assert said["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{schema}"
        }
    return gave


def text_service_spec(tmp_path: Path) -> dict[str, Any]:
    """The OpenAPI docs of a text model's service (a tiny BERT), or a skip without the extra."""
    pytest.importorskip("transformers", reason="the text extra is not installed")
    from _tiny_bert import save_tiny_bert
    from siamkit.applications.text import load_text_model

    model = load_text_model(save_tiny_bert(tmp_path / "bert", layers=1))
    with TestClient(create_app(model, tmp_path / "g.db")) as client:
        spec: dict[str, Any] = client.get("/openapi.json").json()
    return spec
