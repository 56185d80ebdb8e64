"""The web pages' gallery cards count a label's items as the rest of the page does, through
common.js's counted() (siamkit.clauses.counted): a label of 1,001 images reads "1,001 images" on
its card. The cards built their count by hand and read "1001 images", while the gallery's
heading and the label's list beside them said "1,001 images". Both pages, image (app.js) and text
(text.js).

The page's scripts run in Node with the stand-in DOM of _text_page.py, as the other page tests
do."""

from __future__ import annotations

import pytest
from _text_page import image_start, run_page, text_start, texts

PAGES = {"app.js": (image_start, "image"), "text.js": (text_start, "text")}


def _cards(page: str, labels: dict[str, int]) -> list[str]:
    """The count line of each gallery card, in the order of the cards, once the page started."""
    start = PAGES[page][0]
    got = run_page(page, start(labels), "", ["gallery-list", "gallery-count"])
    return [t["text"] for t in texts(got["gallery-list"], "count")]


@pytest.mark.parametrize("page", PAGES)
def test_a_cards_count_groups_the_thousands_as_the_page_does(page):
    unit = PAGES[page][1]
    labels = {"many": 1001, "ten thousand": 12345, "few": 999}
    assert _cards(page, labels) == [f"1,001 {unit}s", f"12,345 {unit}s", f"999 {unit}s"]


@pytest.mark.parametrize("page", PAGES)
def test_a_card_of_one_item_is_in_the_singular(page):
    unit = PAGES[page][1]
    assert _cards(page, {"one": 1, "two": 2}) == [f"1 {unit}", f"2 {unit}s"]


@pytest.mark.parametrize("page", PAGES)
def test_the_cards_count_as_the_gallerys_heading_does(page):
    unit = PAGES[page][1]
    start = PAGES[page][0]
    got = run_page(page, start({"many": 1001}), "", ["gallery-list", "gallery-count"])
    assert got["gallery-count"]["text"] == f"\u2014 1 label, 1,001 {unit}s"
    assert [t["text"] for t in texts(got["gallery-list"], "count")] == [f"1,001 {unit}s"]
