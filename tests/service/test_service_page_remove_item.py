"""The web pages' list of a label's items (each under its #ID since a135a4d) gives each item a
remove button: after the page's usual confirm it sends DELETE /gallery/items/{id} for that one
image or text, not the label; the list is shown again without it (closed when the label has
nothing left), and answers that may name the item (identify's matches) go, as after a label's
removal. A refusal is said in the list's note. Both pages, image (app.js) and text (text.js).

The page's scripts run in Node with the stand-in DOM of _text_page.py, as the other page tests
do."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from _service_helpers import require_node
from _text_page import HARNESS, STATIC, image_start, text_start, texts

LABEL = '<img src=x onerror="alert(1)">'  # a label is shown as text, never as markup
IMAGE_START = image_start({LABEL: 2})
TEXT_START = text_start({LABEL: 2})
ITEMS = [
    {"item_id": 12, "thumbnail": "data:image/png;base64,AA==", "text": "toner", "source": None},
    {"item_id": 13, "thumbnail": "data:image/png;base64,AA==", "text": "ink", "source": None},
]
LISTED = {"label": LABEL, "count": 2, "images": ITEMS, "items": ITEMS}
MATCH = {"label": LABEL, "distance": 0.1, "item_id": 13, "accepted": True, "margin": 0.4,
         "thumbnail": None, "text": "ink", "source": None}  # fmt: skip
IDENTIFY = {"threshold": 0.5, "label": LABEL, "chunked": 0, "matches": [MATCH]}
PAGES = {
    # page script, its start answers, its unit, the list panel, how identify is filled
    "app.js": (IMAGE_START, "image", "label-images", 'box("identify-file").files = [{}];'),
    "text.js": (TEXT_START, "text", "label-texts", 'box("identify-text").value = "ink";'),
}
# identify (one match: #13), list the label's items, then click #13's remove button with the
# confirm dialog answering `answer`; the question asked is kept in box "asked"
STEPS = """
const asked = [];
globalThis.window = {{ confirm: (q) => {{ asked.push(q); return {answer}; }} }};
{fill}
box("identify-k").value = "5";
await box("identify-form").listeners.submit({{ preventDefault() {{}} }});
await showLabel({label});
const row = box("{panel}-list").children[{row}];
const button = row.children.find((c) => c.className === "link item-remove");
box("button").textContent = button.textContent;
box("button").title = button.title;
await button.listeners.click();
box("asked").textContent = asked.join("|");
"""


def _run(page: str, answers: dict[str, Any], answer: str = "true", row: int = 1) -> dict[str, Any]:
    node = require_node()
    start, _, panel, fill = PAGES[page]
    steps = STEPS.format(answer=answer, fill=fill, label=json.dumps(LABEL), panel=panel, row=row)
    show = [panel, f"{panel}-note", f"{panel}-list", "identify-matches", "asked", "button"]
    all_answers = {**start, "/identify": IDENTIFY, "/gallery/images": LISTED, **answers}
    args = [str(STATIC / "common.js"), str(STATIC / page), all_answers, steps, show]
    done = subprocess.run(
        [node, "-e", HARNESS], input=json.dumps(args), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _requests(got: dict[str, Any]) -> list[list[str]]:
    return [s[:2] for s in got["sent"] if s[1] != "/identify"]


LIST = "/gallery/images?label=%3Cimg%20src%3Dx%20onerror%3D%22alert(1)%22%3E"


@pytest.mark.parametrize("page", PAGES)
def test_an_items_remove_button_removes_that_item_and_lists_the_label_again(page):
    unit, panel = PAGES[page][1], PAGES[page][2]
    removed = {"item_id": 13, "label": LABEL, "label_count": 1}
    got = _run(page, {"/gallery/items/13": removed})
    assert (got["button"]["text"], got["button"]["title"]) == (
        "remove",
        f"Remove {unit} #13 of \u201c{LABEL}\u201d",
    )
    assert got["asked"]["text"] == (
        f"Remove {unit} #13 of \u201c{LABEL}\u201d? The label keeps its other {unit}."
    )
    assert _requests(got) == [["GET", LIST], ["DELETE", "/gallery/items/13"], ["GET", LIST]]
    assert got[panel]["hidden"] is False
    assert [t["text"] for t in texts(got[f"{panel}-list"], "item-id")] == ["#12", "#13"]
    assert got["identify-matches"]["children"] == []  # the answer named #13: it goes


@pytest.mark.parametrize("page", PAGES)
def test_removing_a_labels_last_item_closes_its_list(page):
    panel = PAGES[page][2]
    got = _run(page, {"/gallery/items/13": {"item_id": 13, "label": LABEL, "label_count": 0}})
    assert _requests(got) == [["GET", LIST], ["DELETE", "/gallery/items/13"]]
    assert got[panel]["hidden"] is True


@pytest.mark.parametrize("page", PAGES)
def test_a_declined_confirm_sends_nothing_and_keeps_the_answers(page):
    got = _run(page, {}, answer="false")
    assert _requests(got) == [["GET", LIST]]
    assert len(got["identify-matches"]["children"]) == 1


@pytest.mark.parametrize("page", PAGES)
def test_a_refused_removal_is_said_in_the_lists_note(page):
    panel = PAGES[page][2]
    refusal = "Item #13 is not in the gallery (never enrolled, or removed already)."
    got = _run(page, {"/gallery/items/13": {"error": refusal}})
    assert got[f"{panel}-note"]["text"] == refusal
    assert len(got["identify-matches"]["children"]) == 1


@pytest.mark.parametrize("page", PAGES)
def test_the_confirm_counts_what_the_label_keeps(page):
    # it said "The label keeps its other images." also of a label's last one, whose removal
    # takes the label out of the gallery
    unit = PAGES[page][1]
    one = {"label": LABEL, "count": 1, "images": ITEMS[:1], "items": ITEMS[:1]}
    got = _run(page, {"/gallery/images": one}, answer="false", row=0)
    assert got["asked"]["text"] == (
        f"Remove {unit} #12 of \u201c{LABEL}\u201d? It is the label\u2019s last {unit}: the "
        "label leaves the gallery."
    )
    three = [*ITEMS, {**ITEMS[0], "item_id": 14}]
    listed = {"label": LABEL, "count": 3, "images": three, "items": three}
    got = _run(page, {"/gallery/images": listed}, answer="false")
    assert got["asked"]["text"].endswith(f"The label keeps its other 2 {unit}s.")


@pytest.mark.parametrize("page", PAGES)
def test_the_confirm_counts_the_labels_items_not_the_ones_listed(page):
    # the list holds only the items with a thumbnail (or kept text), and at most 48: a label of
    # one pictured item and two without was "the label's last image: the label leaves the
    # gallery", one of 100 "keeps its other 47"
    unit = PAGES[page][1]
    listed = {"label": LABEL, "count": 3, "images": ITEMS[:1], "items": ITEMS[:1]}
    got = _run(page, {"/gallery/images": listed}, answer="false", row=0)
    assert got["asked"]["text"].endswith(f"The label keeps its other 2 {unit}s.")
    many = [{**ITEMS[0], "item_id": i} for i in range(48)]
    listed = {"label": LABEL, "count": 100, "images": many, "items": many}
    got = _run(page, {"/gallery/images": listed}, answer="false")
    assert got["asked"]["text"].endswith(f"The label keeps its other 99 {unit}s.")


@pytest.mark.parametrize("page", PAGES)
def test_the_confirm_groups_the_thousands_of_what_the_label_keeps(page):
    # it said "The label keeps its other 1000 images." while the list's note beside it said
    # "1,001 images enrolled": the confirm built its count by hand, not through counted()
    unit = PAGES[page][1]
    many = [{**ITEMS[0], "item_id": i} for i in range(48)]
    listed = {"label": LABEL, "count": 1001, "images": many, "items": many}
    got = _run(page, {"/gallery/images": listed}, answer="false")
    assert got["asked"]["text"].endswith(f"The label keeps its other 1,000 {unit}s.")
