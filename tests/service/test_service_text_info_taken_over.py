"""``GET /info`` of a text service answers the same 409 as the image one once another model took
its empty gallery over (``engine.stats`` refuses it, as every gallery call), yet its OpenAPI
entry listed only 401 and 422: a client generated from it had no 409 to expect. It now lists it,
said as the image service's is."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from _service_helpers import API_KEY
from test_service_gallery_taken_over import TAKEN_OVER

from _tiny_bert import save_tiny_bert

pytest.importorskip("transformers", reason="the text extra is not installed")
pytest.importorskip("fastapi")


def test_the_text_services_info_answers_and_lists_the_409_of_a_gallery_taken_over(
    tmp_path: Path,
) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.applications.text import load_text_model
    from siamkit.index import Gallery
    from siamkit.service import create_app

    model = load_text_model(save_tiny_bert(tmp_path / "bert", layers=1))
    db = tmp_path / "g.db"
    with TestClient(create_app(model, db, api_key=API_KEY)) as c:
        c.headers["X-API-Key"] = API_KEY
        r = c.get("/info")
        assert r.status_code == 200 and r.json()["gallery"]["num_items"] == 0, r.text
        with Gallery.open(db, embedding_dim=8) as other:  # another model's enrollment
            other.enroll_embeddings("bob", np.ones((1, 8), np.float32))
        r = c.get("/info")
        assert (r.status_code, r.json()) == (409, {"detail": TAKEN_OVER})
        assert c.get("/gallery").json() == {"detail": TAKEN_OVER}  # the same sentence
        spec = c.get("/openapi.json").json()
    said = spec["paths"]["/info"]["get"]["responses"]["409"]["description"]
    assert "taken over by another model" in said and "started without a gallery" not in said
