"""Every endpoint that reads or writes the gallery can answer 503 (the gallery busy past
SQLite's wait or the disk full, with ``Retry-After``; or its files damaged, unreadable or not
writable, or no temp folder SQLite may write, without), yet the OpenAPI docs listed 503 on no
route, so a client generated from them had none to expect. Each such route lists it, with the
header; the others do not."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

from _openapi_routes import (
    REQUESTS,
    ask_every_route,
    check_listed_as_answered,
    one_item_served,
    text_service_spec,
)
from _service_helpers import make_model

from siamkit.service import create_app
from siamkit.service.errors import RETRY_AFTER_S

FILLED = {"/gallery/items/{item_id}": "/gallery/items/1", "/gallery/{label}": "/gallery/a"}


def test_the_routes_that_answer_503_list_it_in_the_openapi_docs(tmp_path):
    app = create_app(make_model(), tmp_path / "shop.db")
    with one_item_served(app) as (client, spec):

        @contextmanager
        def busy(*args, **kwargs):
            err = sqlite3.OperationalError("database is locked")
            err.sqlite_errorname = "SQLITE_BUSY"  # as sqlite3 sets it
            raise err
            yield  # pragma: no cover

        # every read and write of the store waits for its lock here
        app.state.engine.gallery._store._locked = busy
        answered = ask_every_route(client, FILLED)
    gave_503 = check_listed_as_answered(spec, answered, 503, "ErrorResponse")
    assert gave_503 == set(REQUESTS) - {("post", "/embed"), ("get", "/health")}
    for key in gave_503:
        assert answered[key].headers["Retry-After"] == str(RETRY_AFTER_S)
        method, path = key
        said = spec["paths"][path][method]["responses"]["503"]
        assert "Retry-After" in said["headers"] and "Without Retry-After" in said["description"]
        # each 503 without Retry-After is named, the temp-folder one (NO_TEMP_FOLDER) too
        for case in ("damaged", "thumbnail", "read-only", "temp folder", "SQLITE_TMPDIR"):
            assert case in said["description"], (key, case)


def test_the_text_services_gallery_routes_list_the_503_too(tmp_path):
    """The text service's routes read and write the same gallery through the same handlers: each
    that can find no gallery (its 409) can find it busy or unwritable (its 503)."""
    spec = text_service_spec(tmp_path)
    listed = {
        (method, path): set(op["responses"])
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    }
    gallery = {key for key, codes in listed.items() if "409" in codes}
    assert {("post", "/enroll"), ("post", "/identify"), ("get", "/gallery")} <= gallery
    assert {key for key, codes in listed.items() if "503" in codes} == gallery
    for method, path in gallery:
        said = spec["paths"][path][method]["responses"]["503"]
        assert "Retry-After" in said["headers"] and "temp folder" in said["description"]
