"""The text web page shows where each text came from (``source``, which the text /identify's
matches and the text GET /gallery/images' items carry): under a match's text and under each of a
label's texts, as text (never markup) through common.js's sourceLine, as the image page does, and
nothing where the service knows none.

The page's scripts run in Node with a stand-in DOM (_text_page.py)."""

from __future__ import annotations

import json
from typing import Any

from _text_page import ODD, run_text_page, texts

STEPS = """
box("identify-text").value = "The printer needs toner.";
box("identify-k").value = "3";
await onIdentify({ preventDefault() {} });
await showLabel("printer, 2nd");
"""
SHOW = ["identify-result", "identify-matches", "label-texts-list", "label-texts-note"]


def _match(item_id: int, source: str | None, text: str | None = "Out of toner.") -> dict[str, Any]:
    return {"label": "printer, 2nd", "distance": 0.1, "item_id": item_id, "accepted": True,
            "margin": 0.2, "text": text, "source": source}  # fmt: skip


def _page(matches: list[dict[str, Any]], items: list[dict[str, Any]]) -> dict[str, Any]:
    answers = {
        "/identify": {"threshold": 0.3, "label": "printer, 2nd", "chunked": 0, "matches": matches},
        "/gallery/images": {"label": "printer, 2nd", "count": len(items), "items": items},
    }
    got = run_text_page(answers, STEPS, SHOW)
    assert "error" not in got["identify-result"]["cls"], got["identify-result"]
    return got


def test_matches_and_a_labels_texts_show_their_source_as_text():
    matches = [
        _match(1, "tickets.jsonl:3"),
        _match(2, None),
        _match(3, ODD, text=None),  # enrolled outside the service: no text, still its source
    ]
    items = [
        {"item_id": 1, "text": "Out of toner.", "source": "tickets.jsonl:3"},
        {"item_id": 2, "text": "Toner again.", "source": None},
        {"item_id": 3, "text": "<b>toner</b>", "source": ODD},
    ]
    got = _page(matches, items)
    rows = got["identify-matches"]["children"]
    assert [texts(m, "source") for m in rows] == [
        [{"text": "from tickets.jsonl:3", "title": "tickets.jsonl:3"}],
        [],  # unknown: nothing shown, not "from null"
        [{"text": "from " + ODD, "title": ODD}],
    ]
    # each match keeps its name, similarity and text, the source and the label's actions under them
    assert [[c["cls"] for c in m["children"][0]["children"]] for m in rows] == [
        ["name", "dist", "snippet", "source", "actions"],
        ["name", "dist", "snippet", "actions"],
        ["name", "dist", "snippet", "source", "actions"],
    ]
    assert texts(rows[2], "snippet")[0]["text"] == "(text not kept: enrolled outside the service)"
    listed = got["label-texts-list"]["children"]
    assert [texts(it, "snippet") for it in listed] == [
        [{"text": "Out of toner.", "title": ""}],
        [{"text": "Toner again.", "title": ""}],
        [{"text": "<b>toner</b>", "title": ""}],
    ]
    assert [texts(it, "source") for it in listed] == [
        [{"text": "from tickets.jsonl:3", "title": "tickets.jsonl:3"}],
        [],
        [{"text": "from " + ODD, "title": ODD}],
    ]
    assert got["label-texts-note"]["text"] == "3 texts enrolled."


def test_a_service_that_sends_no_source_shows_none():
    """An older service's answers have no ``source`` key at all: no line, no 'undefined'."""
    match = _match(1, None)
    del match["source"]
    got = _page([match], [{"item_id": 1, "text": "Out of toner."}])
    assert texts(got["identify-matches"], "source") == []
    assert texts(got["label-texts-list"], "source") == []
    assert "undefined" not in json.dumps(got)
