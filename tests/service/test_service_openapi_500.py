"""Every endpoint that runs the model answers its NaN or infinite embeddings with a 500 whose
body says so in a sentence (``siamkit.service.errors._on_unrankable``), yet the OpenAPI docs
listed 500 on no route, so a client generated from them had none to expect (s54_RR1). Each such
route lists it, with the body it sends (``detail`` and ``request_id``); the others do not."""

from __future__ import annotations

from _openapi_routes import (
    ask_every_route,
    check_listed_as_answered,
    listed,
    one_item_served,
    text_service_spec,
)
from _service_helpers import make_model

from siamkit.service import create_app

FILLED = {"/gallery/items/{item_id}": "/gallery/items/99", "/gallery/{label}": "/gallery/zz"}
RUNS_THE_MODEL = {
    ("post", "/enroll"),
    ("post", "/verify"),
    ("post", "/identify"),
    ("post", "/embed"),
}


def test_the_routes_that_answer_a_models_nan_with_500_list_it(tmp_path):
    model = make_model()
    app = create_app(model, tmp_path / "shop.db", api_key=None)
    with one_item_served(app, raise_server_exceptions=False) as (client, spec):
        hook = model.encoder.register_forward_hook(lambda m, i, o: o * float("nan"))
        try:
            answered = ask_every_route(client, FILLED)
        finally:
            hook.remove()
    gave_500 = check_listed_as_answered(spec, answered, 500, "ServerErrorResponse")
    assert gave_500 == RUNS_THE_MODEL, {k: a.text for k, a in answered.items()}
    schema = spec["components"]["schemas"]["ServerErrorResponse"]
    for method, path in gave_500:
        body = answered[method, path].json()
        assert "NaN or infinite values" in body["detail"], body
        assert set(body) == set(schema["properties"]), (body, schema)  # the body as documented
        said = spec["paths"][path][method]["responses"]["500"]
        assert "NaN or infinite values" in said["description"]
        # a 500 is also the generic 'Internal error' of any other fault (ServerErrorResponse)
        assert "'Internal error'" in said["description"]


def test_the_text_services_routes_that_embed_list_the_500_too(tmp_path):
    """The text service's routes embed with the same check and answer through the same handler."""
    assert listed(text_service_spec(tmp_path), "500") == RUNS_THE_MODEL
