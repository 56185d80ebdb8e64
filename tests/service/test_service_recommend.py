"""POST /recommend against a naive nearest-to-any-liked-item loop."""

from __future__ import annotations

import numpy as np
from _service_helpers import as_tensor, pattern, png_bytes


def _enroll(client, label, array):
    res = client.post(
        "/enroll", data={"label": label}, files=[("files", ("a.png", png_bytes(array)))]
    )
    assert res.status_code == 201, res.text
    return res.json()["item_ids"][0]


def test_recommend_matches_a_naive_loop(client, model):
    arrays = {f"item-{i}": pattern("noise", seed=i) for i in range(8)}
    ids = {label: _enroll(client, label, a) for label, a in arrays.items()}
    z = {label: model.embed(as_tensor(a)).detach().numpy()[0] for label, a in arrays.items()}
    liked = ["item-1", "#" + str(ids["item-5"])]
    res = client.post("/recommend", json={"like": liked, "k": 3})
    assert res.status_code == 200, res.text
    got = [(it["label"], it["item_id"]) for it in res.json()["items"]]
    score = {
        label: min(np.linalg.norm(v - z["item-1"]), np.linalg.norm(v - z["item-5"]))
        for label, v in z.items()
        if label not in ("item-1", "item-5")
    }
    expected = sorted(score, key=score.get)[:3]
    assert got == [(label, ids[label]) for label in expected]
    dists = [it["distance"] for it in res.json()["items"]]
    np.testing.assert_allclose(dists, [score[label] for label in expected], rtol=1e-4, atol=1e-5)


def test_recommend_bad_input(client):
    _enroll(client, "item-0", pattern("stripes"))
    res = client.post("/recommend", json={"like": ["nobody"]})
    assert res.status_code == 404  # the label keeps both its quotes (one used to be stripped)
    assert res.json()["detail"] == (
        "Label 'nobody' is not in the gallery (enrolled labels include 'item-0'); POST /enroll "
        "images under it to add it, or like one item as '#ID' with an item_id that /identify or "
        "/recommend answered."
    )
    assert client.post("/recommend", json={"like": []}).status_code == 422
    assert client.post("/recommend", json={"like": ["item-0"], "k": 0}).status_code == 422
    res = client.post("/recommend", json={"like": ["#x"]})
    assert res.status_code == 422 and "#ID" in res.json()["detail"]
    res = client.post("/recommend", json={"like": ["#999"]})
    assert res.status_code == 404 and "999" in res.json()["detail"]


def test_recommend_field_errors_say_what_to_fix(client):
    """A misspelt field ("likes") was dropped without a word, the answer then asking for
    "like" as if it had not been tried ("Give like: it is required."); pydantic's own wording
    ("Like input should be a valid list.") named no fix; k's range read unlike /identify's."""
    _enroll(client, "item-0", pattern("stripes"))
    r = client.post("/recommend", json={"likes": ["item-0"], "k": 3})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        "Give the liked labels or #IDs (like): it is required. The field 'likes' is not one "
        "this endpoint takes; check its name (the API docs at /docs list the fields)."
    )
    assert {e["field"] for e in r.json()["errors"]} == {"like", "likes"}
    r = client.post("/recommend", json={"like": "item-0"})
    assert r.json()["detail"] == (
        'The liked labels or #IDs (like) must be a JSON list, such as ["alice", "#12"].'
    )
    r = client.post("/recommend", json={"like": []})
    assert r.json()["detail"] == "The liked labels or #IDs (like) must have at least 1 item."
    for k in (0, 1000):
        r = client.post("/recommend", json={"like": ["item-0"], "k": k})
        assert r.status_code == 422
        assert r.json()["detail"] == (
            f"The number of matches (k) must be between 1 and 100, got {k}."
        )


def test_recommend_not_sent_as_json_is_told_to_send_json(client):
    """`curl -d '{"like": [...]}'` (curl's form content type), a form or JSON with no content
    type answered "Request input should be a valid dictionary or object to extract fields
    from.": no word of JSON."""
    _enroll(client, "item-0", pattern("stripes"))
    sent = [
        {
            "content": b'{"like": ["item-0"]}',
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
        {"data": {"like": "item-0"}},
        {"files": [("like", ("a.txt", b"item-0", "text/plain"))]},
        {"content": b'{"like": ["item-0"]}'},  # no content type: FastAPI reads no JSON
    ]
    for kwargs in sent:
        r = client.post("/recommend", **kwargs)
        assert r.status_code == 415, r.text
        assert r.json()["detail"] == (
            "Send /recommend a JSON body with the content type application/json, e.g. curl -H "
            '\'content-type: application/json\' -d \'{"like": ["alice"], "k": 10}\'.'
        )
    r = client.post(
        "/recommend",
        content=b'{"like": ["item-0"]}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    responses = client.get("/openapi.json").json()["paths"]["/recommend"]["post"]["responses"]
    assert {"404", "409", "415", "422"} <= set(responses)


def test_recommend_refusals_read_as_the_other_routes(client, png):
    """/recommend said "label 'x' is not in the gallery; enrolled labels include ..." (lower case,
    no full stop, no way to add it) where /verify, GET /gallery/images and DELETE /gallery say
    "Label 'x' is not in the gallery (...); POST /enroll images under it to add it.": it now
    says the same, adding the '#ID' hint; an unknown #ID said "item ids not in the gallery: 999;
    use an item id that identify or recommend gave" (CLI words); an empty gallery said "label
    'x' is not in the gallery; the gallery is empty", or of '#1' that 1 is not a known id."""
    for like in (["nobody"], ["#1"], ["nobody", "#1"]):
        r = client.post("/recommend", json={"like": like})
        assert r.status_code == 404 and r.json()["detail"] == (
            "The gallery is empty, so there is nothing to recommend: POST /enroll labelled "
            "images first."
        ), r.text
    item = _enroll(client, "item-0", pattern("stripes"))
    r = client.post("/recommend", json={"like": ["nobody"]})
    verify = client.post("/verify", data={"label": "nobody"}, files={"file": ("a.png", png())})
    assert r.status_code == verify.status_code == 404
    assert r.json()["detail"].startswith(verify.json()["detail"].removesuffix("."))
    assert r.json()["detail"].endswith(", or like one item as '#ID' with an item_id that "
                                       "/identify or /recommend answered.")  # fmt: skip
    r = client.post("/recommend", json={"like": [f"#{item + 7}", "item-0"]})
    assert r.status_code == 404 and r.json()["detail"] == (
        f"Item {item + 7} is not in the gallery; like an item_id that /identify or /recommend "
        "answered ('#12'), or a label (GET /gallery lists them)."
    )
    r = client.post("/recommend", json={"like": [f"#{item + 9}", f"#{item + 8}"]})
    assert r.json()["detail"].startswith(f"Items {item + 8}, {item + 9} are not in the gallery;")
    r = client.post("/recommend", json={"like": ["#x"]})
    assert (
        r.status_code == 422 and r.json()["detail"] == "'#x': an item id is written #ID, e.g. #12."
    )


def test_recommend_refuses_a_k_of_true_or_false(client):
    """pydantic's lax mode read JSON's `"k": true` as k = 1 (one item, no word of the mistake)
    and `false` as 0 (refused as "between 1 and 100, got 0"): a boolean is refused as no number."""
    _enroll(client, "item-0", pattern("stripes"))
    _enroll(client, "item-1", pattern("noise"))
    for k in (True, False):
        r = client.post("/recommend", json={"like": ["item-0"], "k": k})
        assert r.status_code == 422 and r.json()["detail"] == (
            "The number of matches (k) must be a whole number (integer), such as 5."
        ), r.text
    assert len(client.post("/recommend", json={"like": ["item-0"], "k": 1}).json()["items"]) == 1


def test_recommend_per_label_gives_each_label_once(client):
    """{"per_label": true}: one item per label, its nearest; the liked items' labels left out."""
    first = client.post(
        "/enroll",
        data={"label": "prod-0"},
        files=[("files", (f"{s}.png", png_bytes(pattern("noise", seed=s)))) for s in (0, 1)],
    ).json()["item_ids"]
    for p in range(1, 4):
        files = [
            ("files", (f"{s}.png", png_bytes(pattern("noise", seed=10 * p + s)))) for s in (0, 1, 2)
        ]
        assert client.post("/enroll", data={"label": f"prod-{p}"}, files=files).status_code == 201
    every = client.post("/recommend", json={"like": [f"#{first[0]}"], "k": 20}).json()["items"]
    r = client.post("/recommend", json={"like": [f"#{first[0]}"], "k": 20, "per_label": True})
    assert r.status_code == 200, r.text
    nearest: dict[str, tuple[float, int]] = {}
    for it in every:
        if it["label"] != "prod-0":
            nearest.setdefault(it["label"], (it["distance"], it["item_id"]))
    got = [(it["label"], it["item_id"]) for it in r.json()["items"]]
    assert got == [(label, i) for label, (_, i) in sorted(nearest.items(), key=lambda t: t[1])]
    assert len(got) == 3


def test_a_like_that_is_both_an_old_label_and_an_item_is_refused(client, tmp_path):
    """ "like": ["#2"] liked a label '#2' that an older siamkit enrolled, without a word, though
    '#ID' names one item and item 2 was in the gallery too."""
    import sqlite3

    ids = [_enroll(client, f"item-{i}", pattern("noise", seed=i)) for i in range(3)]
    assert ids == [1, 2, 3]
    with sqlite3.connect(tmp_path / "gallery0.db") as conn:  # as an older siamkit enrolled it
        emb = conn.execute("SELECT embedding FROM items WHERE id = 1").fetchone()[0]
        conn.execute(
            "INSERT INTO items(label, metadata, embedding, created) VALUES ('#2', NULL, ?, 0)",
            (emb,),
        )
    res = client.post("/recommend", json={"like": ["#2"], "k": 1})
    assert res.status_code == 422 and res.json()["detail"] == (
        "'#2' is both item 2 and the label '#2' (enrolled before labels like item ids were "
        "refused): like item 2 as '#02', or the label as its items '#4'."
    ), res.text
    res = client.post("/recommend", json={"like": ["#4"], "k": 1})
    assert res.status_code == 200 and res.json()["items"][0]["item_id"] == 1, res.text
    res = client.post("/recommend", json={"like": ["#02"], "k": 3})
    assert res.status_code == 200 and 2 not in [it["item_id"] for it in res.json()["items"]]
