"""Fixtures for the service tests: a tiny image model, generated PNGs and a test client."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _browser_page import launched_browser, page_on
from _service_helpers import API_KEY, make_model, pattern, png_bytes, serve_in_thread

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


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    """A headless-Chromium page (:mod:`_browser_page`) on a service of its own, whose gallery
    starts empty: ``test_service_e2e_counts.py`` and ``test_service_e2e_remove_item.py``, which
    call ``require_browser()`` first. ``test_service_e2e.py`` has a ``page`` of its own, on its
    module's one server."""
    from siamkit.service import create_app

    app = create_app(make_model(), tmp_path / "gallery.db")
    with serve_in_thread(app) as url, launched_browser() as browser, page_on(browser, url) as page:
        yield page


class LogRecords(logging.Handler):
    """Every record of the ``siamkit`` loggers a test makes (:func:`siamkit_log`)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= logging.ERROR]

    def access(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.name == "siamkit.access"]

    @property
    def text(self) -> str:
        """The records as lines, tracebacks included."""
        return "\n".join(logging.Formatter().format(r) for r in self.records)


@pytest.fixture
def siamkit_log() -> Iterator[LogRecords]:
    """The records of the ``siamkit`` loggers, whatever handlers, levels and propagation earlier
    tests left them (``caplog`` sees nothing once a serve test set the level to ERROR); restored."""
    logger = logging.getLogger("siamkit")
    saved = logger.handlers[:], logger.level, logger.propagate
    handler = LogRecords()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
