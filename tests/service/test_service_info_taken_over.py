"""``GET /info`` of a service whose gallery, which held no item, another model took over: it
answered 200 with that model's item and label counts under this service's model, where every
other gallery call answers 409; it now answers the same 409 sentence (and its OpenAPI entry
lists it)."""

from __future__ import annotations

from pathlib import Path

import torch
from _service_helpers import make_model, pattern
from test_service_gallery_taken_over import TAKEN_OVER

from siamkit.index import Gallery


def test_info_after_another_model_took_the_empty_gallery_over_is_a_409(
    client, tmp_path: Path, siamkit_log
) -> None:
    r = client.get("/info")
    assert r.status_code == 200, r.text
    assert r.json()["gallery"]["num_items"] == 0
    torch.manual_seed(7)  # the same architecture, other weights: another fingerprint
    other = make_model()
    for p in other.parameters():
        torch.nn.init.normal_(p)
    with Gallery.open(tmp_path / "gallery0.db", other) as g:  # the client's gallery
        g.enroll("bob", torch.from_numpy(pattern("stripes")).float().div(255)[None, None])
    r = client.get("/info")
    assert (r.status_code, r.json()) == (409, {"detail": TAKEN_OVER})
    assert (client.get("/gallery").json()) == {"detail": TAKEN_OVER}  # the same sentence
    assert "taken over by another model" in siamkit_log.text
    assert "Traceback" not in siamkit_log.text


def test_the_openapi_of_info_lists_its_409(client) -> None:
    spec = client.get("/openapi.json").json()
    said = spec["paths"]["/info"]["get"]["responses"]["409"]["description"]
    assert "taken over by another model" in said and "started without a gallery" not in said


def test_info_of_a_service_without_a_gallery_is_still_200(model) -> None:
    from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(model, None)) as c:
        r = c.get("/info")
    assert r.status_code == 200 and r.json()["gallery"] is None
