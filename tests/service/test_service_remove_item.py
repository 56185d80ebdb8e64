"""``DELETE /gallery/items/{item_id}``: one wrongly enrolled image (or text) removed by the #ID
that /identify, /gallery/images and /recommend give, not its whole label. 404 naming the id if
no item has it; the label DELETE's key, cross-origin refusal and access line; the search index
(exact, LSH, FAISS) in step, so /identify never returns the item again."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _service_helpers import API_KEY, pattern, png_bytes


def _files(field: str, *kinds: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(field, (f"{k}.png", png_bytes(pattern(k)), "image/png")) for k in kinds]


def _identified(client: Any, kind: str) -> list[int]:
    r = client.post("/identify", files=_files("file", kind), data={"k": "10"})
    assert r.status_code == 200, r.text
    return [m["item_id"] for m in r.json()["matches"]]


def _enroll(client: Any) -> None:
    """alice: stripes (#1), disc (#2); bob: checker (#3)."""
    for label, kinds in (("alice", ("stripes", "disc")), ("bob", ("checker",))):
        r = client.post("/enroll", data={"label": label}, files=_files("files", *kinds))
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("index", ["exact", "lsh", "faiss-hnsw", "faiss-flat"])
def test_a_removed_item_leaves_identify_and_its_label_keeps_the_rest(client_factory, index):
    if index.startswith("faiss"):
        pytest.importorskip("faiss")
    client = client_factory(index=index)
    _enroll(client)
    assert _identified(client, "stripes")[0] == 1  # the search index is built
    r = client.delete("/gallery/items/1")
    assert r.status_code == 200, r.text
    assert r.json() == {"item_id": 1, "label": "alice", "label_count": 1}
    assert 1 not in _identified(client, "stripes") and 1 not in _identified(client, "disc")
    listed = client.get("/gallery/images", params={"label": "alice"}).json()
    assert listed["count"] == 1 and [i["item_id"] for i in listed["images"]] == [2]
    r = client.post("/recommend", json={"like": ["#3"], "k": 5})
    assert [i["item_id"] for i in r.json()["items"]] == [2]
    # bob's only item: the label goes with it
    assert client.delete("/gallery/items/3").json() == {"item_id": 3, "label": "bob", "label_count": 0}  # fmt: skip
    assert [x["label"] for x in client.get("/gallery").json()["labels"]] == ["alice"]
    assert _identified(client, "checker") == [2]


@pytest.mark.parametrize("item", ["1", "99", "0", "99999999999999999999999"])
def test_an_unknown_id_is_a_404_naming_it_and_removes_nothing(client, item):
    _enroll(client)
    client.delete("/gallery/items/1")
    r = client.delete(f"/gallery/items/{item}")
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == (
        f"Item #{item} is not in the gallery (never enrolled, or removed already); /identify's "
        "matches and GET /gallery/images give each enrolled image's item_id."
    )
    assert client.get("/gallery").json()["num_items"] == 2


def test_it_needs_the_key_is_refused_cross_origin_and_takes_no_query(client):
    _enroll(client)
    assert client.delete("/gallery/items/1", headers={"X-API-Key": "wrong"}).status_code == 401
    foreign = {"Origin": "http://evil.example"}
    assert client.delete("/gallery/items/1", headers=foreign).status_code == 403
    r = client.delete("/gallery/items/1", params={"force": "1"})
    assert r.status_code == 422 and "'force'" in r.json()["detail"]
    assert "/gallery/items/{item_id} takes none" in r.json()["detail"]
    assert client.get("/gallery").json()["num_items"] == 3


def test_a_label_named_items_slash_digits_is_still_removed_as_a_label(client):
    """The pages send a label's slash as %2F: DELETE /gallery/items%2F1 removes the label
    'items/1' (enrolled before), never item #1 of another label."""
    _enroll(client)
    client.post("/enroll", data={"label": "items/1"}, files=_files("files", "noise"))
    r = client.delete("/gallery/items%2F1")
    assert r.status_code == 200 and r.json() == {"label": "items/1", "removed": 1}
    assert client.get("/gallery").json()["num_items"] == 3
    assert client.delete("/gallery/items/1").json()["label"] == "alice"


def test_the_removal_is_on_the_access_log_and_in_the_api_docs(client):
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger, handler = logging.getLogger("siamkit.access"), Keep(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        _enroll(client)
        client.delete("/gallery/items/2")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert any('"DELETE /gallery/items/2 HTTP/1.1" 200 OK' in r.getMessage() for r in records)
    route = client.get("/openapi.json").json()["paths"]["/gallery/items/{item_id}"]["delete"]
    assert {"401", "403", "404", "409"} <= set(route["responses"])
    assert "item_id" in route["description"]


@pytest.fixture
def text_client(tmp_path: Path) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.applications.text import load_text_model
    from siamkit.service import create_app

    app = create_app(load_text_model(), tmp_path / "texts.db", api_key=API_KEY)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = API_KEY
        yield client


def test_a_text_service_removes_one_text_and_its_preview(text_client):
    printer = ["The printer on floor two is out of toner.", "Printer toner is empty again."]
    text_client.post("/enroll", json={"label": "printer", "texts": printer})
    text_client.post("/enroll", json={"label": "vpn", "texts": ["The VPN will not connect."]})

    def matched() -> list[int]:
        r = text_client.post("/identify", json={"text": "printer toner empty", "k": 5})
        return [m["item_id"] for m in r.json()["matches"]]

    assert 2 in matched() or 1 in matched()
    r = text_client.delete("/gallery/items/2")
    assert r.json() == {"item_id": 2, "label": "printer", "label_count": 1}
    items = text_client.get("/gallery/images", params={"label": "printer"}).json()["items"]
    assert [(i["item_id"], i["text"]) for i in items] == [(1, printer[0])]
    assert 2 not in matched()
    r = text_client.delete("/gallery/items/2")
    assert r.status_code == 404 and "each enrolled text's item_id" in r.json()["detail"]
