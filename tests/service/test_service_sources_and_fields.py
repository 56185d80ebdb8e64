"""The image service's matches name the file an item was enrolled from (``siamkit enroll``
keeps it), and JSON bodies refuse in siamkit's words: a boolean for a whole number, a number
for a label, a body that is no JSON object."""

from __future__ import annotations

import pytest
from _service_helpers import as_tensor, pattern, png_bytes

from siamkit.index import Gallery


def test_identify_and_recommend_name_each_items_source_file(client_factory, model, tmp_path):
    arrays = {f"tile-{i}": pattern("noise", seed=i) for i in range(3)}
    with Gallery.open(tmp_path / "gallery0.db", model) as g:  # as `siamkit enroll` fills it
        for label, a in arrays.items():
            z = model.embed(as_tensor(a)).detach().numpy()
            g.enroll_embeddings(label, z, sources=[f"photos/{label}/0.png"])
        g.enroll_embeddings("no-file", z * 0.5)  # enrolled without a source (Python, older)
    client = client_factory()
    files = [("file", ("q.png", png_bytes(arrays["tile-1"])))]
    res = client.post("/identify", files=files, data={"k": "4"})
    assert res.status_code == 200, res.text
    matches = res.json()["matches"]
    assert matches[0]["label"] == "tile-1" and matches[0]["source"] == "photos/tile-1/0.png"
    assert {m["label"]: m["source"] for m in matches}["no-file"] is None
    res = client.post("/recommend", json={"like": ["tile-0"], "k": 10})
    assert res.status_code == 200, res.text
    items = res.json()["items"]
    assert {it["label"]: it["source"] for it in items} == {
        "tile-1": "photos/tile-1/0.png",
        "tile-2": "photos/tile-2/0.png",
        "no-file": None,
    }
    assert all("text" not in it for it in items)  # a text model's service only


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"like": [3]},
            "The liked labels or #IDs (like.0) must be text in double quotes (a JSON string), "
            'such as "alice" or "#12".',
        ),
        (
            [1, 2],
            'The request body must be a JSON object of fields in braces ({"name": value, ...}), '
            "not a list, a string or a number; the API docs at /docs list each endpoint's fields.",
        ),
        (
            "alice",
            'The request body must be a JSON object of fields in braces ({"name": value, ...}), '
            "not a list, a string or a number; the API docs at /docs list each endpoint's fields.",
        ),
    ],
)
def test_a_json_body_of_the_wrong_kind_is_one_siamkit_sentence(client, body, detail):
    """pydantic's own words showed: "should be a valid string", "Request should be a valid
    dictionary or object to extract fields from"."""
    res = client.post("/recommend", json=body)
    assert res.status_code == 422 and res.json()["detail"] == detail, res.text


def test_every_int_field_of_a_json_body_refuses_a_boolean():
    """/recommend refused ``"k": true`` (48ae096) but the text service's /identify read it as
    k = 1: every JsonBody refuses a boolean for a whole number."""
    from pydantic import ValidationError

    from siamkit.service.recommend_schemas import RecommendRequest
    from siamkit.service.text_schemas import TextIdentifyRequest

    for k in (True, False):
        with pytest.raises(ValidationError, match="valid integer"):
            TextIdentifyRequest.model_validate({"text": "hello", "k": k})
        with pytest.raises(ValidationError, match="valid integer"):
            RecommendRequest.model_validate({"like": ["a"], "k": k})
    assert TextIdentifyRequest.model_validate({"text": "hello", "k": 3}).k == 3


def test_enrolling_a_label_like_an_item_id_is_refused_in_the_services_words(client, png):
    """'#12' names item 12 in /recommend's likes, so such a label would hide that item."""
    res = client.post("/enroll", data={"label": "#12"}, files=[("files", ("a.png", png()))])
    assert res.status_code == 422 and res.json()["detail"] == (
        "The label '#12' looks like an item id: '#' followed by digits names one item in "
        '/recommend\'s "like" ("#12"), so choose another name, such as \'item-12\'.'
    ), res.text
    assert client.get("/gallery").json()["labels"] == []
