"""A request of the other kind (JSON to an image service, a form to a text service) is refused
with an example of the endpoint's own fields; the example, sent as written, is then answered.

It used to show /enroll's fields (``-F files=@photo.jpg -F label=alice``) for /verify and
/identify too, and ``{"text": "..."}`` for a text service's /enroll (which takes ``texts``) and
/verify (``text_a``, ``text_b``): following the refusal got a second one."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _service_helpers import pattern, png_bytes

pytest.importorskip("fastapi")

PATHS = ["/enroll", "/verify", "/identify", "/embed"]
PNG = png_bytes(pattern("stripes"))


def _alternatives(detail: str, start: str, end: str) -> list[str]:
    """The example(s) the refusal gives between ``start`` and ``end``, split at ``or``."""
    found = re.search(re.escape(start) + "(.*?)" + re.escape(end), detail)
    assert found, detail
    return [alt.strip(" ,") for alt in found.group(1).split(" or ")]


def _form(example: str) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]:
    """``curl -F a=@x.jpg -F b=v`` as TestClient's data and files (each file a PNG)."""
    data: dict[str, str] = {}
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for field, value in re.findall(r"-F (\w+)=(\S+)", example):
        if value.startswith("@"):
            files.append((field, (value[1:], PNG, "image/png")))
        else:
            data[field] = value
    assert files, example
    return data, files


@pytest.mark.parametrize("path", PATHS)
def test_json_to_an_image_service_shows_this_endpoints_own_form(client, path) -> None:
    r = client.post(path, json={"text": "a"})
    assert r.status_code == 415, r.text
    detail = r.json()["detail"]
    alternatives = _alternatives(detail, "(e.g. ", "), not JSON")
    # the label the examples name is enrolled, so that /verify against it can be answered
    enrolled = client.post("/enroll", data={"label": "alice"}, files=_form("-F files=@a.png")[1])
    assert enrolled.status_code == 201, enrolled.text
    for example in alternatives:
        assert "-F " in example, detail
        data, files = _form(example)
        answer = client.post(path, data=data, files=files)
        assert answer.status_code in (200, 201), (example, answer.text)


@pytest.fixture(scope="module")
def text_model() -> Any:
    pytest.importorskip("transformers", reason="the text extra is not installed")
    from siamkit.applications.text import load_text_model

    return load_text_model()


@pytest.fixture
def text_client(tmp_path: Path, text_model: Any) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(text_model, tmp_path / "t.db")) as client:
        yield client


def test_a_form_to_a_text_service_shows_each_endpoints_own_json(text_client) -> None:
    for path in PATHS:
        r = text_client.post(
            path, data={"text": "a"}, files=[("file", ("a.png", PNG, "image/png"))]
        )
        assert r.status_code == 415, r.text
        detail = r.json()["detail"]
        for example in _alternatives(detail, "e.g. ", ", not images"):
            body = json.loads(example.replace("...", "The printer is out of toner."))
            if path != "/enroll":  # the label the examples name, enrolled for /verify
                text_client.post("/enroll", json={"label": "T-17", "texts": ["Printer jam."]})
            answer = text_client.post(path, json=body)
            assert answer.status_code in (200, 201), (path, example, answer.text)
