"""A text service's JSON body that is not UTF-8 (a script that sent Latin-1 or cp1252 bytes):
FastAPI's parser answered 400 "There was an error parsing the body", naming neither the problem
nor where. It is now one sentence with the byte and its offset, nothing enrolled; UTF-16 JSON,
which ``json.loads`` reads, is still taken."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from _service_helpers import API_KEY

from _tiny_bert import save_tiny_bert

pytest.importorskip("transformers", reason="the text extra is not installed")
pytest.importorskip("fastapi")

JSON = {"Content-Type": "application/json"}
BODIES = {
    "/enroll": '{"label": "T-1", "texts": ["Le café est froid."]}',
    "/verify": '{"text_a": "Le café est froid.", "text_b": "Coffee is cold."}',
    "/identify": '{"text": "Le café est froid.", "k": 1}',
    "/embed": '{"texts": ["Le café est froid."]}',
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.applications.text import load_text_model
    from siamkit.service import create_app

    tmp = tmp_path_factory.mktemp("body")
    model = load_text_model(save_tiny_bert(tmp / "tiny"))
    app = create_app(model, tmp / "g.db", api_key=API_KEY)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.headers["X-API-Key"] = API_KEY
        yield c


@pytest.mark.parametrize("path", list(BODIES))
def test_a_body_that_is_not_utf8_is_named_with_its_byte_and_offset(client: Any, path: str) -> None:
    body = BODIES[path].encode("latin-1")
    offset = body.index(b"\xe9")  # the reference: where Latin-1 wrote é as one byte
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    r = client.post(path, content=body, headers=JSON)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        f"The request body is not UTF-8 text (byte 0xe9 at offset {offset}); send the JSON "
        "encoded as UTF-8."
    )
    assert r.json()["errors"][0]["field"] == "body"
    assert client.get("/gallery").json()["labels"] == []  # nothing enrolled


def test_utf8_and_utf16_json_are_still_read(client: Any) -> None:
    for encoding in ("utf-8", "utf-16-le"):
        r = client.post("/embed", content=BODIES["/embed"].encode(encoding), headers=JSON)
        assert r.status_code == 200, (encoding, r.text)
        assert len(r.json()["embeddings"]) == 1


@pytest.mark.parametrize("path", ["/embed", "/identify"])
def test_a_body_with_utf8s_byte_order_mark_and_latin1_bytes_is_named(
    client: Any, path: str
) -> None:
    """json.detect_encoding says utf-8-sig of a body that starts with UTF-8's byte-order mark,
    which the check skipped: its Latin-1 bytes still got FastAPI's 400 "There was an error
    parsing the body"."""
    bom = b"\xef\xbb\xbf"
    body = bom + BODIES[path].encode("latin-1")
    assert json.detect_encoding(body) == "utf-8-sig"  # what the check keyed on
    offset = body.index(b"\xe9")  # the reference: the é's one byte, counting the mark
    r = client.post(path, content=body, headers=JSON)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        f"The request body is not UTF-8 text (byte 0xe9 at offset {offset}); send the JSON "
        "encoded as UTF-8."
    )
    r = client.post(path, content=bom + BODIES[path].encode(), headers=JSON)  # a valid one
    assert r.status_code == 200, r.text
