"""Fixtures for the service tests: a tiny image model, generated PNGs and a test client."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest
from _service_helpers import API_KEY, make_model, pattern, png_bytes

import siamkit

pytest.importorskip("fastapi")
pytest.importorskip("multipart")


@pytest.fixture
def model() -> siamkit.SiameseNetwork:
    return make_model()


@pytest.fixture
def png() -> Callable[..., bytes]:
    return lambda kind="stripes", seed=0: png_bytes(pattern(kind, seed=seed))


@pytest.fixture
def client_factory(tmp_path, model) -> Iterator[Callable[..., object]]:
    """``make(api_key=..., limits=...)`` -> a started TestClient over a fresh gallery."""
    with warnings.catch_warnings():  # starlette's notice about httpx2, raised on import
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    clients: list[TestClient] = []

    def make(api_key: str | None = API_KEY, **kwargs: object) -> TestClient:
        gallery = tmp_path / f"gallery{len(clients)}.db"
        app = create_app(model, gallery, api_key=api_key, **kwargs)  # type: ignore[arg-type]
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        if api_key:
            client.headers["X-API-Key"] = api_key
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_factory):
    return client_factory()
