"""The service's /enroll refuses the model's embeddings of the uploads that no search can rank
in the gallery's own sentence (tests/index/test_enroll_value_checks.py), as a 422."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from _service_helpers import make_model, pattern, png_bytes

from _unrankable_rows import CASES, naive_refusal

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.index.base import UnrankableEmbeddingsError
from siamkit.service import create_app
from siamkit.service.errors import unrankable_detail


@pytest.mark.parametrize("case", ["too large", "nan"])
def test_the_services_enroll_answers_the_same_sentence(tmp_path, case):
    """The model's embeddings of the uploads holding NaN (a model's failure on one image) were
    the service's 500 "Internal error", which named neither the image nor that nothing was
    stored: a 422 in the gallery's sentence now."""
    rows = np.array(CASES[case][:2], np.float64)
    app = create_app(make_model(), tmp_path / "shop.db")
    gallery = app.state.engine.gallery
    gallery._embed = lambda inputs, role: torch.from_numpy(rows)  # the model's failure
    files = [
        ("files", (f"{i}.png", png_bytes(pattern("noise", seed=i)), "image/png")) for i in (0, 1)
    ]
    with TestClient(app) as client:
        answer = client.post("/enroll", data={"label": "a"}, files=files)
        listed = client.get("/gallery").json()
    expected = naive_refusal(rows, "; nothing was stored")
    assert answer.status_code == 422, answer.text
    assert answer.json() == {"detail": unrankable_detail(UnrankableEmbeddingsError(expected))}
    assert expected in answer.json()["detail"]
    assert listed["num_items"] == 0, listed
