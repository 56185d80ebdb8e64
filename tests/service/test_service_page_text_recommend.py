"""The text web page's Recommend section (the text service had POST /recommend, its page had no
way to it): liked labels chosen from the gallery's and texts typed by #ID, k and one-per-label
sent as /recommend's JSON, and each recommended text shown as identify's matches are (label,
similarity, the text, 'from <file>' as text) with its #ID to like it in turn, as the image page's
section does.

The page's scripts run in Node with a stand-in DOM (_text_page.py); the last test sends the
page's body to the real text service and shows its answer on the page."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _text_page import ODD, START, STATIC, run_text_page, texts


def _steps(labels: list[str], ids: str, k: str, per_label: bool, after: str = "") -> str:
    """Fill the Recommend form, submit it through its listener, then run ``after``."""
    return f"""
for (const option of box("recommend-labels").children) {{
  option.selected = {labels!r}.includes(option.value);
}}
box("recommend-ids").value = {ids!r};
box("recommend-k").value = {k!r};
box("recommend-per-label").checked = {str(per_label).lower()};
await box("recommend-form").listeners.submit({{ preventDefault() {{}} }});
{after}
"""


SHOW = ["recommend-items", "recommend-result", "recommend-card", "recommend-labels"]


def _item(item_id: int, label: str, source: str | None, text: str | None) -> dict[str, Any]:
    return {"label": label, "item_id": item_id, "distance": 0.125 * item_id,
            "source": source, "text": text}  # fmt: skip


ITEMS = [
    _item(2, "printer, 2nd", "tickets.jsonl:3", "The toner is empty."),
    _item(5, "vpn", None, None),
    _item(6, ODD, ODD, "<script>alert(1)</script>"),
]


def _options(got: dict[str, Any]) -> list[str]:
    return [o["text"] for o in got["recommend-labels"]["children"]]


def test_the_form_sends_the_likes_and_lists_texts_as_identify_does():
    steps = _steps(["printer, 2nd", "vpn"], " #12, 40 ", "3", True)
    got = run_text_page({"/recommend": {"items": ITEMS}}, steps, SHOW)
    # the chosen labels (one may hold a comma), then each #ID typed, as "#N"
    assert got["sent"] == [
        [
            "POST",
            "/recommend",
            {"like": ["printer, 2nd", "vpn", "#12", "#40"], "k": 3, "per_label": True},
        ]
    ]
    items = got["recommend-items"]["children"]
    assert [texts(it, "name") for it in items] == [
        [{"text": "1. printer, 2nd", "title": "printer, 2nd"}],
        [{"text": "2. vpn", "title": "vpn"}],
        [{"text": "3. " + ODD, "title": ODD}],
    ]
    # the #ID to like it in turn, and the similarity (1 - distance), the page's scale
    assert [[d["text"] for d in texts(it, "dist")] for it in items] == [
        ["#2 \u2014 similarity 0.7500"], ["#5 \u2014 similarity 0.3750"],
        ["#6 \u2014 similarity 0.2500"],
    ]  # fmt: skip
    assert [[s["text"] for s in texts(it, "snippet")] for it in items] == [
        ["The toner is empty."],
        ["(text not kept: enrolled outside the service)"],
        ["<script>alert(1)</script>"],  # as text: the stand-in DOM refuses innerHTML
    ]
    assert [texts(it, "source") for it in items] == [
        [{"text": "from tickets.jsonl:3", "title": "tickets.jsonl:3"}],
        [],  # unknown: nothing, not "from null"
        [{"text": "from " + ODD, "title": ODD}],
    ]
    assert got["recommend-result"]["text"].startswith(
        "The most similar labels, each by its most similar text"
    )
    assert got["recommend-card"]["hidden"] is False
    assert _options(got) == ["printer, 2nd", "vpn", ODD]  # the gallery's labels to choose from


def test_a_refusal_a_bad_id_and_an_empty_answer_are_said_in_words():
    refusal = "Item 99 is not in the gallery; ..."
    got = run_text_page({"/recommend": {"error": refusal}}, _steps([], "#99", "", False), SHOW)
    assert got["sent"][0][2] == {"like": ["#99"], "per_label": False}  # the service's k
    result = got["recommend-result"]
    assert result["text"] == refusal and result["cls"] == "result error"
    assert got["recommend-items"]["children"] == []
    got = run_text_page({"/recommend": {"items": []}}, _steps(["vpn"], "", "5", False), SHOW)
    assert got["recommend-result"]["text"] == (
        "Nothing to recommend: every text in the gallery is liked."
    )
    got = run_text_page({}, _steps(["vpn"], "#12 vpn", "5", False), SHOW)
    assert got["sent"] == [] and got["recommend-result"]["text"] == (
        "\u201cvpn\u201d is no #ID: type text numbers such as #12 (the #ID each recommendation "
        "shows), or choose labels in the list."
    )
    got = run_text_page({}, _steps([], " ", "5", False), SHOW)
    assert got["sent"] == [] and got["recommend-result"]["cls"] == "result error"


def test_a_gallery_change_clears_or_marks_the_recommendations():
    removed = run_text_page(
        {"/recommend": {"items": ITEMS}},
        _steps(["vpn"], "", "3", False, after="galleryChanged('vpn', true);"),
        SHOW,
    )
    assert removed["recommend-items"]["children"] == []  # they may name it
    assert removed["recommend-result"]["text"] == ""
    enrolled = run_text_page(
        {"/recommend": {"items": ITEMS}},
        _steps(["vpn"], "", "3", False, after="galleryChanged('new', false);"),
        SHOW,
    )
    assert len(enrolled["recommend-items"]["children"]) == 3
    assert [n["text"] for n in texts(enrolled["recommend-result"], "given-before")] == [
        "Given before more texts were enrolled: recommend again to rank them too."
    ]


def test_a_refresh_keeps_the_chosen_labels_chosen():
    after = "fillRecommendLabels({labels: [{label: 'vpn'}, {label: 'new'}]});"
    steps = _steps(["vpn"], "", "3", False, after=after) + (
        "box('recommend-labels').children.forEach((o) => { o.title = String(o.selected); });"
    )
    got = run_text_page({"/recommend": {"items": []}}, steps, SHOW)
    chosen = [(o["text"], o["title"]) for o in got["recommend-labels"]["children"]]
    assert chosen == [("vpn", "true"), ("new", "false")]


def test_a_service_without_a_gallery_hides_the_section():
    info = {"/info": {**START["/info"], "gallery": None}}
    got = run_text_page(info, "", SHOW)
    assert got["recommend-card"]["hidden"] is True
    assert '<section class="card" id="recommend-card">' in (STATIC / "text.html").read_text()


# ------------------------------------------------------------------ the real text service
@pytest.fixture(scope="module")
def text_model() -> Any:
    pytest.importorskip("transformers", reason="the text extra is not installed")
    from siamkit.applications.text import load_text_model

    return load_text_model()


@pytest.fixture
def text_client(tmp_path: Path, text_model: Any) -> Iterator[Any]:
    pytest.importorskip("fastapi")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(text_model, tmp_path / "g.db")) as client:
        yield client


def test_the_page_has_the_section_and_the_text_service_takes_what_it_sends(text_client):
    page = (STATIC / "text.html").read_text()
    scripts = (STATIC / "common.js").read_text() + (STATIC / "text.js").read_text()
    used = set(re.findall(r'\$\("(recommend-[a-z-]+)"\)', scripts))
    assert used and all(f'id="{name}"' in page for name in used), used
    enrolled = {
        "printer": (["The printer on floor two is out of toner."], "tickets.jsonl:1"),
        "toner": (["Printer toner is empty again."], "tickets.jsonl:2"),
        "vpn": (["I cannot connect to the VPN from home."], None),
    }
    for label, (texts_, source) in enrolled.items():
        body = {"label": label, "texts": texts_, **({"source": source} if source else {})}
        assert text_client.post("/enroll", json=body).status_code == 201
    gallery = text_client.get("/gallery").json()
    # the page as the service starts it: its labels to choose from, the form sent as it builds it
    start = {"/info": text_client.get("/info").json(), "/gallery": gallery}
    got = run_text_page(
        {**start, "/recommend": {"items": []}}, _steps(["printer"], "#3", "2", False), SHOW
    )
    assert _options(got) == ["printer", "toner", "vpn"]
    body = got["sent"][0][2]
    assert body == {"like": ["printer", "#3"], "k": 2, "per_label": False}
    res = text_client.post("/recommend", json={**body, "like": ["printer"]})
    assert res.status_code == 200, res.text
    answer = res.json()
    assert [it["label"] for it in answer["items"]] == ["toner", "vpn"]  # toner's is the nearer
    res = text_client.post("/recommend", json=body)  # vpn's one text liked by its #ID too
    assert res.status_code == 200 and [it["label"] for it in res.json()["items"]] == ["toner"]
    # the service's answer on the page: its text, #ID and source, as text
    shown = run_text_page(
        {**start, "/recommend": answer}, _steps(["printer"], "", "2", False), SHOW
    )
    items = shown["recommend-items"]["children"]
    assert [[s["text"] for s in texts(it, "snippet")] for it in items] == [
        ["Printer toner is empty again."], ["I cannot connect to the VPN from home."],
    ]  # fmt: skip
    assert [[s["text"] for s in texts(it, "source")] for it in items] == [
        ["from tickets.jsonl:2"], [],
    ]  # fmt: skip
    dist = [texts(it, "dist")[0]["text"] for it in items]
    want = [
        f"#{it['item_id']} \u2014 similarity {1 - it['distance']:.4f}" for it in answer["items"]
    ]
    assert dist == want and dist[0].startswith("#2 ")


def test_the_heading_of_one_text_is_in_the_singular():
    # 02cea1e4 made the heading follow the number of texts shown; only the plural was pinned,
    # so "The most similar labels, each by ..." / "The most similar texts" over one passed
    for per_label, heading in [
        (True, "The most similar label, by its most similar text"),
        (False, "The most similar text"),
    ]:
        got = run_text_page(
            {"/recommend": {"items": ITEMS[:1]}}, _steps(["vpn"], "", "1", per_label), SHOW
        )
        assert len(got["recommend-items"]["children"]) == 1
        assert got["recommend-result"]["text"] == f"{heading}, most similar first."
    got = run_text_page({"/recommend": {"items": ITEMS}}, _steps(["vpn"], "", "3", False), SHOW)
    assert got["recommend-result"]["text"] == "The most similar texts, most similar first."
