"""The image web page's Recommend section (the service had POST /recommend, the page had no way
to it): liked labels or #IDs one a line, k and one-per-label sent as /recommend's JSON, and each
item shown as identify's matches are (thumbnail, label, distance, 'from <file>' as text), with
its #ID to like it in turn.

The page's scripts run in Node with the stand-in DOM of _text_page.py (it keeps the nodes it is
given and the listeners added to them), as the other page tests do."""

from __future__ import annotations

import json
import re
from typing import Any

from _text_page import STATIC, image_start, run_page

ODD = '<img src=x onerror="alert(1)">.png'  # a file name is shown as it is, never as markup
INFO = image_start(dict.fromkeys(("brick, red", "tile", ODD), 1))


def _run(form: dict[str, Any], answer: Any, after: str = "", info: Any = None) -> Any:
    """Start the image page against ``info`` (:data:`INFO`), fill the Recommend form from
    ``form``, submit it through its listener with ``answer`` as /recommend's (an answer
    {"error": text} is thrown as the service's refusal), then run ``after`` (page code, e.g. a
    gallery change); return what was sent, the listed items as trees of tag, class, text and
    title, the result box, whether the section is hidden, and each label option's choice."""
    steps = f"""
const form = {json.dumps(form)};
for (const option of box("recommend-labels").children) {{
  option.selected = form.labels.includes(option.value);
}}
box("recommend-ids").value = form.ids;
box("recommend-k").value = form.k;
box("recommend-per-label").checked = form.per_label;
await box("recommend-form").listeners.submit({{ preventDefault() {{}} }});
{after};
box("options").textContent = JSON.stringify(
  box("recommend-labels").children.map((o) => [o.value, Boolean(o.selected)]));
"""
    show = ["recommend-items", "recommend-result", "recommend-card", "options"]
    got = run_page("app.js", {**(info or INFO), "/recommend": answer}, steps, show)
    return {
        "sent": got["sent"],
        "items": got["recommend-items"]["children"],
        "result": got["recommend-result"],
        "hidden": got["recommend-card"]["hidden"],
        "options": json.loads(got["options"]["text"]),
    }


def _texts(tree: dict[str, Any], cls: str) -> list[str]:
    found = [tree["text"]] if tree["cls"] == cls else []
    for child in tree["children"]:
        found += _texts(child, cls)
    return found


def _item(item_id: int, label: str, source: str | None, thumbnail: str | None) -> dict[str, Any]:
    return {"label": label, "item_id": item_id, "distance": 0.125 * item_id,
            "source": source, "thumbnail": thumbnail}  # fmt: skip


ITEMS = [
    _item(4, "brick, red", "photos/brick/4.png", "data:image/png;base64,AA=="),
    _item(7, "tile", None, None),
    _item(9, ODD, ODD, "data:image/png;base64,AA=="),
]


def test_the_form_sends_the_likes_and_lists_items_as_identify_does():
    form = {"labels": ["brick, red", "tile"], "ids": " #12, 40 ", "k": "3", "per_label": True}
    got = _run(form, {"items": ITEMS})
    # the chosen labels (one may hold a comma), then each #ID typed, as "#N"
    assert got["sent"] == [
        [
            "POST",
            "/recommend",
            {"like": ["brick, red", "tile", "#12", "#40"], "k": 3, "per_label": True},
        ]
    ]
    items = got["items"]
    assert [_texts(it, "name") for it in items] == [["1. brick, red"], ["2. tile"], ["3. " + ODD]]
    assert [_texts(it, "dist") for it in items] == [
        ["#4 \u2014 distance 0.5000"], ["#7 \u2014 distance 0.8750"], ["#9 \u2014 distance 1.1250"],
    ]  # fmt: skip
    assert [_texts(it, "source") for it in items] == [
        ["from photos/brick/4.png"],
        [],
        ["from " + ODD],  # unknown: nothing, not "from null"
    ]
    assert [[c["cls"] for c in it["children"]] for it in items] == [
        ["thumb", ""],
        ["thumb placeholder", ""],
        ["thumb", ""],
    ]
    assert got["result"]["text"].startswith("The nearest labels, each by its nearest image")
    assert got["hidden"] is False
    assert got["options"] == [["brick, red", True], ["tile", True], [ODD, False]]  # still chosen


def test_a_refusal_a_bad_id_and_an_empty_answer_are_said_in_words():
    refusal = "Item 99 is not in the gallery; ..."
    got = _run({"labels": [], "ids": "#99", "k": "", "per_label": False}, {"error": refusal})
    assert got["sent"][0][2] == {"like": ["#99"], "per_label": False}  # the service's k
    assert got["result"]["text"] == refusal and got["result"]["cls"] == "result error"
    assert got["items"] == []
    got = _run({"labels": ["tile"], "ids": "", "k": "5", "per_label": False}, {"items": []})
    assert got["result"]["text"] == "Nothing to recommend: every image in the gallery is liked."
    got = _run({"labels": ["tile"], "ids": "#12 tile", "k": "5", "per_label": False}, {})
    assert got["sent"] == [] and got["result"]["text"] == (
        "\u201ctile\u201d is no #ID: type image numbers such as #12 (the #ID each recommendation "
        "shows), or choose labels in the list."
    )
    got = _run({"labels": [], "ids": " ", "k": "5", "per_label": False}, {})
    assert got["sent"] == [] and got["result"]["cls"] == "result error"


def test_a_gallery_change_clears_or_marks_the_recommendations():
    form = {"labels": ["tile"], "ids": "", "k": "3", "per_label": False}
    removed = _run(form, {"items": ITEMS}, after="galleryChanged('tile', true)")
    assert removed["items"] == [] and removed["result"]["text"] == ""  # they may name it
    enrolled = _run(form, {"items": ITEMS}, after="galleryChanged('new', false)")
    assert len(enrolled["items"]) == 3
    assert _texts(enrolled["result"], "given-before") == [
        "Given before more images were enrolled: recommend again to rank them too."
    ]


def test_a_refresh_keeps_the_chosen_labels_chosen():
    form = {"labels": ["tile"], "ids": "", "k": "3", "per_label": False}
    got = _run(
        form,
        {"items": []},
        after="fillRecommendLabels({labels: [{label: 'tile'}, {label: 'new'}]})",
    )
    assert got["options"] == [["tile", True], ["new", False]]


def test_a_service_without_a_gallery_hides_the_section():
    info = {**INFO, "/info": {**INFO["/info"], "gallery": None}}
    form = {"labels": [], "ids": "#1", "k": "1", "per_label": False}
    assert _run(form, {"items": []}, info=info)["hidden"]


def test_the_page_has_the_section_and_the_service_takes_what_it_sends(client):
    from _service_helpers import pattern, png_bytes

    page = (STATIC / "index.html").read_text()
    scripts = (STATIC / "common.js").read_text() + (STATIC / "app.js").read_text()
    used = set(re.findall(r'\$\("(recommend-[a-z-]+)"\)', scripts))
    assert used and all(f'id="{name}"' in page for name in used), used
    for label in ("tile", "brick"):
        files = [("files", ("a.png", png_bytes(pattern("noise", seed=len(label)))))]
        assert client.post("/enroll", data={"label": label}, files=files).status_code == 201
    form = {"labels": ["tile"], "ids": "#2", "k": "1", "per_label": False}
    body = _run(form, {"items": []})["sent"][0][2]
    assert body == {"like": ["tile", "#2"], "k": 1, "per_label": False}
    res = client.post("/recommend", json={**body, "like": ["tile"]})
    assert res.status_code == 200 and [it["label"] for it in res.json()["items"]] == ["brick"]
    res = client.post("/recommend", json={**body, "like": ["#1"]})  # tile's one image
    assert res.status_code == 200 and [it["label"] for it in res.json()["items"]] == ["brick"]


def test_the_heading_of_one_item_is_in_the_singular():
    # 02cea1e4 made the heading follow the number of items shown; only the plural was pinned,
    # so "The nearest labels, each by ..." / "The nearest images" over one item passed
    for per_label, heading in [
        (True, "The nearest label, by its nearest image"),
        (False, "The nearest image"),
    ]:
        form = {"labels": ["tile"], "ids": "", "k": "1", "per_label": per_label}
        got = _run(form, {"items": ITEMS[:1]})
        assert len(got["items"]) == 1
        assert got["result"]["text"] == (
            f"{heading}, nearest first (smaller distance is more alike)."
        )
    form = {"labels": ["tile"], "ids": "", "k": "3", "per_label": False}
    got = _run(form, {"items": ITEMS})
    assert (
        got["result"]["text"]
        == "The nearest images, nearest first (smaller distance is more alike)."
    )
