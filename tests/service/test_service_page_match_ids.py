"""The web pages' identify matches showed each match's label and distance but not the item's
#ID (/identify's ``item_id``), nor any way to act on a wrong match. Each match now shows its
#ID as the Recommend rows do ("#7 — distance 0.1000", "#7 — similarity 0.9000"), and the gallery
section's actions on its label: list the label's items (each under its #ID there too) and remove
the label. Both pages, image (app.js) and text (text.js).

The page's scripts run in Node with the stand-in DOM of _text_page.py (its HARNESS takes the
page's script), as the other page tests do."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from _service_helpers import require_node
from _text_page import HARNESS, STATIC, image_start, text_start, texts

ODD = '<img src=x onerror="alert(1)">'  # a label is shown as text, never as markup
LABELS = ("brick, red", ODD)

IMAGE_START = image_start(dict.fromkeys(LABELS, 1), items=3)
TEXT_START = text_start(dict.fromkeys(LABELS, 1), items=3)


def _match(item_id: int, label: str, distance: float, accepted: bool) -> dict[str, Any]:
    return {"label": label, "distance": distance, "item_id": item_id, "accepted": accepted,
            "margin": 0.5 - distance, "thumbnail": None, "text": "toner", "source": None}  # fmt: skip


IDENTIFY = {
    "threshold": 0.5,
    "label": "brick, red",
    "chunked": 0,
    "matches": [_match(7, "brick, red", 0.125, True), _match(12, ODD, 0.75, False)],
}
PAGES = {
    # page script, its start answers, what a label's items are called, how identify is filled
    "app.js": (IMAGE_START, "images", 'box("identify-file").files = [{ name: "q.png" }];'),
    "text.js": (TEXT_START, "texts", 'box("identify-text").value = "out of toner";'),
}
# identify the page's input, then `then` (page code; rows: the match rows)
STEPS = """
globalThis.window = {{ confirm: () => true }};
{fill}
box("identify-k").value = "5";
await box("identify-form").listeners.submit({{ preventDefault() {{}} }});
const rows = box("identify-matches").children;
// a row's i-th action: the buttons under the row's text, its last child
const action = (row, i) => rows[row].children.at(-1).children.at(-1).children[i];
{then}
"""


def _run(page: str, answers: dict[str, Any], then: str, show: list[str]) -> dict[str, Any]:
    node = require_node()
    start, _, fill = PAGES[page]
    steps = STEPS.format(fill=fill, then=then)
    args = [str(STATIC / "common.js"), str(STATIC / page), {**start, **answers}, steps, show]
    done = subprocess.run(
        [node, "-e", HARNESS], input=json.dumps(args), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _actions(tree: dict[str, Any]) -> list[dict[str, Any]]:
    found = [tree] if tree["cls"] == "actions" else []
    for child in tree["children"]:
        found += _actions(child)
    return found


def _buttons(row: dict[str, Any]) -> list[tuple[str, str]]:
    actions = _actions(row)
    assert len(actions) == 1, row
    return [(b["tag"], b["text"]) for b in actions[0]["children"]]


@pytest.mark.parametrize("page", PAGES)
def test_each_match_shows_its_id_and_the_gallery_actions_on_its_label(page: str) -> None:
    units = PAGES[page][1]
    got = _run(page, {"/identify": IDENTIFY}, "", ["identify-matches", "identify-result"])
    assert "error" not in got["identify-result"]["cls"], got["identify-result"]
    rows = got["identify-matches"]["children"]
    dist = [t["text"] for r in rows for t in texts(r, "dist")]
    if page == "app.js":
        assert dist == [
            "#7 \u2014 distance 0.1250 \u2014 accepted, 0.3750 under the threshold 0.5000",
            "#12 \u2014 distance 0.7500 \u2014 too far, 0.2500 over the threshold 0.5000",
        ]
    else:
        assert dist == [
            "#7 \u2014 similarity 0.8750 \u2014 accepted, 0.3750 above the similarity threshold "
            "0.5000",
            "#12 \u2014 similarity 0.2500 \u2014 too far, 0.2500 below the similarity threshold "
            "0.5000",
        ]
    assert [t["text"] for r in rows for t in texts(r, "name")] == ["1. brick, red", "2. " + ODD]
    # the gallery section's two buttons, on each match's own label
    assert [_buttons(r) for r in rows] == [[("button", units), ("button", "remove")]] * 2


@pytest.mark.parametrize("page", PAGES)
def test_a_matchs_items_button_lists_its_label_with_each_items_id(page: str) -> None:
    items = [{"item_id": 12, "thumbnail": "data:image/png;base64,AA==", "text": "toner",
              "source": None}, {"item_id": 13, "thumbnail": None, "text": "ink", "source": None}]  # fmt: skip
    answers = {"/identify": IDENTIFY, "/gallery/images": {"label": ODD, "count": 2,
               "images": items, "items": items}}  # fmt: skip
    panel = "label-images" if page == "app.js" else "label-texts"
    got = _run(page, answers, "await action(1, 0).listeners.click();",
               [panel, f"{panel}-title", f"{panel}-list"])  # fmt: skip
    assert got["sent"][-1][:2] == [
        "GET",
        "/gallery/images?label=%3Cimg%20src%3Dx%20onerror%3D%22alert(1)%22%3E",
    ]
    assert got[panel]["hidden"] is False
    assert got[f"{panel}-title"]["title"] == ODD
    assert [t["text"] for t in texts(got[f"{panel}-list"], "item-id")] == ["#12", "#13"]


@pytest.mark.parametrize("page", PAGES)
def test_a_matchs_remove_button_removes_its_label_and_clears_the_answer(page: str) -> None:
    got = _run(page, {"/identify": IDENTIFY}, "await action(0, 1).listeners.click();",
               ["identify-matches", "identify-result"])  # fmt: skip
    assert got["sent"][-1][:2] == ["DELETE", "/gallery/brick%2C%20red"]
    # the answer named the removed label: it goes, as after a removal in the gallery section
    assert got["identify-matches"]["children"] == [] and got["identify-result"]["text"] == ""
