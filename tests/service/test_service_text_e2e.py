"""End to end: a text model's web page in headless Chromium against uvicorn on a free port.

The page enrolls two texts, identifies and verifies, and the test checks the similarities it
shows against the model's own embeddings computed in-process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _service_helpers import API_KEY, CHROMIUM, require_browser, serve_in_thread

require_browser()
pytest.importorskip("transformers", reason="the text extra is not installed")

PRINTER = "The printer on floor two is out of toner."
VPN = "I cannot connect to the VPN from home."
QUERY = "The printer needs a new toner cartridge."


@pytest.fixture(scope="module")
def text_model() -> Any:
    from siamkit.applications.text import load_text_model

    return load_text_model()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory, text_model: Any) -> Iterator[str]:
    from siamkit.service import create_app

    app = create_app(
        text_model, tmp_path_factory.mktemp("g") / "tickets.db", api_key=API_KEY,
        model_name="runs/<i>tickets</i>/model",
    )  # fmt: skip
    with serve_in_thread(app) as url:
        yield url


def _gallery_labels(server_url: str) -> list[dict[str, Any]]:
    """The server's own gallery listing (not the page's), to check what the page did."""
    import json
    import urllib.request

    request = urllib.request.Request(server_url + "/gallery", headers={"X-API-Key": API_KEY})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return list(json.loads(answer.read())["labels"])


def _similarity(model: Any, a: str, b: str) -> float:
    z = model.embed([a, b]).numpy()
    return float(z[0] @ z[1])


def test_text_page_enrolls_identifies_and_verifies(server_url, text_model, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    from siamkit.applications.text.model import PASSAGE_THRESHOLD
    from siamkit.applications.text.score_map import ScoreMap

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server_url + "/")
        page.wait_for_selector("#key-box:not([hidden])")
        page.fill("#api-key", API_KEY)
        page.dispatch_event("#api-key", "change")
        page.wait_for_selector("#model-info:has-text('Text model')")
        assert f"{1 - PASSAGE_THRESHOLD:.4f}" in page.inner_text("#model-info")
        # the model served, by name, as text (not markup)
        assert page.inner_text("#model-info").startswith("Text model runs/<i>tickets</i>/model: ")
        assert page.locator("#model-info i").count() == 0
        assert page.locator("input[type=file]").count() == 0  # text boxes, no uploads

        for label, text in (("printer", PRINTER), ("vpn", VPN)):
            page.fill("#enroll-label", label)
            page.fill("#enroll-text", text)
            page.click("#enroll-submit")
            page.wait_for_selector(f"#enroll-result.ok:has-text('{label}')")
        page.wait_for_selector("#gallery-list li >> nth=1")
        assert PRINTER in page.inner_text("#gallery-list")
        assert page.inner_text("#enroll-result").startswith("Enrolled the text as \u201cvpn\u201d")
        # the same text again: not added, and the message says so
        page.fill("#enroll-label", "printer")
        page.fill("#enroll-text", PRINTER)
        page.click("#enroll-submit")
        page.wait_for_selector("#enroll-result.ok:has-text('already enrolled')")
        assert page.inner_text("#enroll-result") == (
            "The text is already enrolled as \u201cprinter\u201d: not added again (1 text in "
            "total)."
        )

        page.fill("#identify-text", QUERY)
        page.click("#identify-submit")
        page.wait_for_selector("#identify-matches li >> nth=1")
        rows = page.locator("#identify-matches li")
        first = rows.nth(0).inner_text()
        assert first.startswith("1. printer") and PRINTER in first
        assert f"similarity {_similarity(text_model, QUERY, PRINTER):.4f}" in first
        assert f"similarity {_similarity(text_model, QUERY, VPN):.4f}" in rows.nth(1).inner_text()
        assert rows.nth(1).get_attribute("class") == "match rejected"
        # the margin and the legend on the similarity scale of the model line, not the distance
        # threshold (a rejected similarity 0.70 "over the threshold 0.28" read as a contradiction)
        below = (1 - _similarity(text_model, QUERY, VPN)) - PASSAGE_THRESHOLD
        assert (
            f"{below:.4f} below the similarity threshold {1 - PASSAGE_THRESHOLD:.4f}"
            in rows.nth(1).inner_text()
        )
        legend = page.inner_text("#identify-legend")
        assert f"similarity at or above {1 - PASSAGE_THRESHOLD:.4f}" in legend
        assert f"{PASSAGE_THRESHOLD:.4f}" not in legend

        # with the browser's own form checks off, a k of 2.5 is refused, not rounded to 2
        page.eval_on_selector("#identify-form", "f => { f.noValidate = true; }")
        page.fill("#identify-k", "2.5")
        page.click("#identify-submit")
        page.wait_for_selector("#identify-result.error")
        assert "integer" in page.inner_text("#identify-result")
        # a failed identify leaves no list or legend of the earlier query under its error
        assert page.locator("#identify-matches li").count() == 0
        assert page.is_hidden("#identify-legend")
        page.fill("#identify-k", "5")
        page.click("#identify-submit")
        page.wait_for_selector("#identify-matches li")
        page.fill("#identify-text", "")
        page.click("#identify-submit")
        page.wait_for_selector("#identify-result.error:has-text('Give a text')")
        assert page.locator("#identify-matches li").count() == 0
        assert page.is_hidden("#identify-legend")

        a, b = "A man is playing guitar.", "Someone plays a guitar."
        page.fill("#verify-a", a)
        page.fill("#verify-b", b)
        page.click("#verify-submit")
        page.wait_for_selector("#verify-result:has-text('similarity')")
        text = page.inner_text("#verify-result")
        sim = _similarity(text_model, a, b)
        assert text.startswith("Same" if 1 - sim <= PASSAGE_THRESHOLD else "Different")
        assert f"{sim:.4f}" in text and "score" not in text  # the model has no score map
        side = "above" if 1 - sim <= PASSAGE_THRESHOLD else "below"
        assert f"{side} the similarity threshold {1 - PASSAGE_THRESHOLD:.4f}" in text

        score_map = ScoreMap((0.0, 0.5, 0.95), (0.0, 1.5, 5.0))  # the served model gets one
        monkeypatch.setattr(text_model, "score_map", score_map)
        page.fill("#verify-b", "Someone is playing a guitar.")
        page.click("#verify-submit")
        page.wait_for_selector("#verify-result:has-text('score')")
        score = float(score_map(_similarity(text_model, a, "Someone is playing a guitar.")))
        assert f"score {score:.4f} on the fine-tuning scores' scale" in page.inner_text(
            "#verify-result"
        )
        monkeypatch.undo()

        page.check("#verify-mode-label")
        page.fill("#verify-a", "My VPN connection keeps failing.")
        page.select_option("#verify-label", "printer")
        page.click("#verify-submit")
        page.wait_for_selector("#verify-result.bad:has-text('printer')")

        page.fill("#enroll-label", "blank")
        page.fill("#enroll-text", "   ")
        page.click("#enroll-submit")
        page.wait_for_selector("#enroll-result.error")

        # the gallery entry's buttons (common.js): list a label's texts, then remove a label
        printer = page.locator("#gallery-list li", has_text="printer")
        printer.locator("button.show").click()
        page.wait_for_selector("#label-texts-list li")
        assert page.inner_text("#label-texts-list .snippet") == PRINTER  # under #1, over remove
        confirms: list[str] = []
        page.on("dialog", lambda d: (confirms.append(d.message), d.accept()))
        page.locator("#gallery-list li", has_text="vpn").locator(
            "button", has_text="remove"
        ).click()
        page.wait_for_selector("#gallery-count:has-text('1 label, 1 text')")
        assert confirms == ["Remove \u201cvpn\u201d and all its texts?"]
        assert [i["label"] for i in _gallery_labels(server_url)] == ["printer"]
        assert page.is_visible("#label-texts")  # vpn's removal leaves printer's texts listed
        # a removal clears the last enroll message; the verify against printer stays
        assert page.inner_text("#enroll-result") == ""
        assert "printer" in page.inner_text("#verify-result")
        # removing the label whose texts are listed closes the list (it showed removed texts)
        page.locator("#gallery-list li", has_text="printer").locator(
            "button", has_text="remove"
        ).click()
        page.wait_for_selector("#gallery-empty:not([hidden])")
        assert page.is_hidden("#label-texts")
        assert page.inner_text("#verify-result") == ""  # it was against printer

        # a 256-character label with no space: one line cut with an ellipsis, whole in the title
        long = "x" * 256
        page.fill("#enroll-label", long)
        page.fill("#enroll-text", VPN)
        page.click("#enroll-submit")
        name = page.locator("#gallery-list li .name")
        name.wait_for()
        assert name.get_attribute("title") == long
        assert name.evaluate("e => e.scrollWidth > e.clientWidth")  # cut, not wrapped
        height = name.evaluate("e => e.getBoundingClientRect().height")
        assert height < 2 * float(name.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
        # ...and so do its identify row and its "Texts of" heading; the messages quoting it wrap
        one_line = "e => e.getBoundingClientRect().height < 1.5 * parseFloat(getComputedStyle(e).lineHeight)"
        page.fill("#identify-text", VPN)
        page.click("#identify-submit")
        row = page.locator("#identify-matches li .name")
        row.wait_for()
        assert row.get_attribute("title") == long
        assert row.evaluate(one_line) and row.evaluate("e => e.scrollWidth > e.clientWidth")
        page.locator("#gallery-list li button.show").click()
        page.wait_for_selector("#label-texts-list li")
        heading = page.locator("#label-texts-title")
        assert heading.get_attribute("title") == long
        assert heading.evaluate(one_line) and heading.evaluate("e => e.scrollWidth > e.clientWidth")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
        page.screenshot(path=str(tmp_path / "text_page.png"), full_page=True)
        browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_each_result_box_says_the_text_is_being_embedded_while_its_request_is_out(server_url):
    """A second identify (a 50,000-character text takes seconds) kept the first one's 'Most like
    ...' under a greyed button until its answer came, as if it were this text's; a verify kept
    the last pair's verdict, and an enroll showed nothing. Each box now says the text is being
    embedded while its request is held, then shows the answer."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_context().new_page()
        page.set_default_timeout(30_000)
        page.goto(server_url + "/")
        page.wait_for_selector("#key-box:not([hidden])")
        page.fill("#api-key", API_KEY)
        page.dispatch_event("#api-key", "change")
        page.wait_for_selector("#model-info:has-text('Text model')")
        page.fill("#enroll-label", "pending-printer")
        page.fill("#enroll-text", PRINTER)
        page.click("#enroll-submit")
        page.wait_for_selector("#enroll-result.ok:has-text('pending-printer')")
        page.fill("#identify-text", QUERY)
        page.click("#identify-submit")
        page.wait_for_selector("#identify-result.ok:has-text('Most like')")
        page.fill("#verify-a", PRINTER)
        page.fill("#verify-b", QUERY)
        page.click("#verify-submit")
        page.wait_for_selector("#verify-result:has-text('similarity')")

        held: list[Any] = []

        def hold(route: Any) -> None:
            held.append(route)

        for path in ("identify", "verify", "enroll"):
            page.route(f"**/{path}", hold)
        for box, fill in (
            ("identify", {"#identify-text": VPN}),
            ("verify", {"#verify-b": VPN}),
            ("enroll", {"#enroll-label": "pending-vpn", "#enroll-text": VPN}),
        ):
            for field, value in fill.items():
                page.fill(field, value)
            page.click(f"#{box}-submit")
            page.wait_for_selector(f"#{box}-submit[disabled]")
            # the last answer (another text's) is gone; the box says what is under way
            assert page.inner_text(f"#{box}-result").startswith("Embedding the ")
        assert page.inner_text("#verify-result").startswith("Embedding the two texts")
        assert len(held) == 3
        # one at a time, each answer awaited (2513be0: an enroll's answer used to empty the
        # identify box, so letting all three go at once raced the identify check)
        identify, verify, enroll = held
        identify.continue_()
        page.wait_for_selector("#identify-result:has-text('Most like'), #identify-result.bad")
        verify.continue_()
        page.wait_for_selector("#verify-result:has-text('similarity')")
        enroll.continue_()
        page.wait_for_selector("#enroll-result.ok:has-text('pending-vpn')")
        browser.close()


def _open_page(p: Any, url: str, key: str | None = None) -> Any:
    browser = p.chromium.launch(
        executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
    )
    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    page.goto(url + "/")
    if key is not None:
        page.wait_for_selector("#key-box:not([hidden])")
        page.fill("#api-key", key)
        page.dispatch_event("#api-key", "change")
    page.wait_for_selector("#model-info:has-text('Text model')")
    return page


def test_verify_against_a_label_of_an_empty_gallery_says_nothing_is_enrolled(text_model, tmp_path):
    """With nothing enrolled, 'an enrolled label' offers an empty list, and Verify said 'Give a
    text and choose a label.' with a text given and no label to choose. It now says nothing is
    enrolled: enroll first, or compare with a second text."""
    from playwright.sync_api import sync_playwright

    from siamkit.service import create_app

    app = create_app(text_model, tmp_path / "empty.db")
    with serve_in_thread(app) as url, sync_playwright() as p:
        page = _open_page(p, url)
        page.wait_for_selector("#gallery-empty:not([hidden])")
        page.check("#verify-mode-label")
        page.fill("#verify-a", VPN)
        page.click("#verify-submit")
        page.wait_for_selector("#verify-result.error")
        assert page.inner_text("#verify-result") == (
            "Nothing is enrolled yet: enroll a text under a label first, or compare with a "
            "second text."
        )
        page.fill("#verify-a", " ")
        page.click("#verify-submit")
        page.wait_for_selector("#verify-result.error:has-text('Give a text.')")


def test_verify_against_a_label_removed_elsewhere_says_so_and_updates_the_list(
    text_model, tmp_path
):
    """A label removed outside the page (another tab, the CLI) stayed in the page's list; Verify
    against it showed the API's sentence ("... the gallery is empty: POST /enroll texts under it
    first") and the gallery still listed it. The page now says the label is no longer enrolled
    and lists the gallery as it is."""
    import urllib.request

    from playwright.sync_api import sync_playwright

    from siamkit.service import create_app

    app = create_app(text_model, tmp_path / "stale.db")
    with serve_in_thread(app) as url, sync_playwright() as p:
        page = _open_page(p, url)
        page.fill("#enroll-label", "printer")
        page.fill("#enroll-text", PRINTER)
        page.click("#enroll-submit")
        page.wait_for_selector("#gallery-count:has-text('1 label')")
        urllib.request.urlopen(urllib.request.Request(url + "/gallery/printer", method="DELETE"))
        page.check("#verify-mode-label")
        page.fill("#verify-a", QUERY)
        page.click("#verify-submit")
        page.wait_for_selector("#verify-result.error")
        assert page.inner_text("#verify-result") == (
            "\u201cprinter\u201d is no longer enrolled (removed since this page listed it); the "
            "gallery below is updated."
        )
        page.wait_for_selector("#gallery-empty:not([hidden])")
        assert page.locator("#verify-label option").count() == 0


def test_the_model_line_says_an_onnx_runtime_serves(server_url):
    """Served with --runtime onnx-int8, the page and /info read as the PyTorch model's, whose
    similarities (siamkit text similarity's) differ slightly: /info now names the runtime and the
    model line says ONNX Runtime serves, and in int8 that its similarities differ. The torch
    runtime's line is unchanged (the first test)."""
    import json

    from playwright.sync_api import sync_playwright

    def as_runtime(runtime: str) -> Any:
        def handle(route: Any) -> None:
            answer = route.fetch()
            body = answer.json()
            assert body["model"]["runtime"] == "torch"  # the served model is the PyTorch one
            body["model"]["runtime"] = runtime
            route.fulfill(response=answer, body=json.dumps(body))

        return handle

    with sync_playwright() as p:
        page = _open_page(p, server_url, API_KEY)
        for runtime, words in (
            ("onnx-int8", "; run by ONNX Runtime in int8 (similarities differ slightly from "),
            ("onnx", "; run by ONNX Runtime (fp32)."),
        ):
            page.route("**/info", as_runtime(runtime))
            page.dispatch_event("#api-key", "change")
            page.wait_for_selector(f"#model-info:has-text('{words}')")
            page.unroute("**/info")


def test_an_identify_answer_stays_in_its_box_when_an_enroll_answers_after_it(text_model, tmp_path):
    """An enroll's answer emptied the identify box (galleryChanged): a user who identified while
    an enroll was embedding saw the answer vanish when the enroll answered. The identify answer
    stays in its own box, with a line naming the labels enrolled since; an identify still out
    keeps saying so; a message the enroll made wrong ('The gallery is empty') goes."""
    from playwright.sync_api import sync_playwright

    from siamkit.service import create_app

    def enroll(page: Any, label: str, text: str) -> None:
        page.fill("#enroll-label", label)
        page.fill("#enroll-text", text)
        page.click("#enroll-submit")
        page.wait_for_selector(f"#enroll-result.ok:has-text('{label}')")

    def identify(page: Any, text: str) -> None:
        page.fill("#identify-text", text)
        page.click("#identify-submit")

    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)

    app = create_app(text_model, tmp_path / "boxes.db")
    with serve_in_thread(app) as url, sync_playwright() as p:
        page = _open_page(p, url)
        page.wait_for_selector("#gallery-empty:not([hidden])")
        identify(page, QUERY)
        page.wait_for_selector("#identify-result.error:has-text('The gallery is empty')")
        enroll(page, "printer", PRINTER)
        assert page.inner_text("#identify-result") == ""  # it was wrong once printer came

        identify(page, QUERY)
        page.wait_for_selector("#identify-result.ok:has-text('Most like')")
        answer = page.inner_text("#identify-result")
        # an enroll sent before the identify, answering after it
        page.route("**/enroll", hold)
        page.fill("#enroll-label", "vpn")
        page.fill("#enroll-text", VPN)
        page.click("#enroll-submit")
        page.wait_for_function("() => document.getElementById('enroll-submit').disabled")
        identify(page, QUERY)
        page.wait_for_selector("#identify-result.ok:has-text('Most like')")
        assert page.locator("#identify-matches li").count() == 1
        held[0].continue_()
        page.unroute("**/enroll")  # after continue_: unroute lets a held one go
        page.wait_for_selector("#enroll-result.ok:has-text('vpn')")
        note = "Given before \u201cvpn\u201d was enrolled: identify again to rank it too."
        assert page.inner_text("#identify-result.ok") == f"{answer}\n{note}"
        assert page.locator("#identify-matches li").count() == 1  # the answer's ranking stays
        assert page.is_visible("#identify-legend")
        enroll(page, "printer", QUERY)  # into a label enrolled before: named once, last
        enroll(page, "vpn", "My VPN drops every few minutes.")
        assert page.inner_text("#identify-result .given-before") == (
            "Given before \u201cprinter\u201d, \u201cvpn\u201d were enrolled: identify again to "
            "rank them too."
        )

        # a new identify answers afresh; one still out when an enroll answers keeps saying so
        identify(page, QUERY)
        page.wait_for_selector("#identify-matches li >> nth=1")
        assert page.locator("#identify-result .given-before").count() == 0
        held.clear()
        page.route("**/identify", hold)
        identify(page, VPN)
        page.wait_for_function("() => document.getElementById('identify-submit').disabled")
        enroll(page, "wifi", "The office wifi is very slow today.")
        assert page.inner_text("#identify-result").startswith("Embedding the text")
        held[0].continue_()
        page.unroute("**/identify")  # after continue_: unroute lets a held one go
        page.wait_for_selector("#identify-result.ok:has-text('Most like \u201cvpn\u201d')")
        assert page.locator("#identify-matches li").count() == 3

        # a verify answer against a label stays too when more of it is enrolled, saying so; one
        # still out keeps saying so, and its answer comes
        page.check("#verify-mode-label")
        page.fill("#verify-a", VPN)
        page.select_option("#verify-label", "vpn")
        page.click("#verify-submit")
        page.wait_for_selector("#verify-result:has-text('as \u201cvpn\u201d')")
        verdict = page.inner_text("#verify-result")
        enroll(page, "vpn", "The VPN client says my certificate has expired.")
        assert page.inner_text("#verify-result") == (
            f"{verdict}\nGiven before more texts of \u201cvpn\u201d were enrolled: verify again "
            "to compare with them too."
        )
        held.clear()
        page.route("**/verify", hold)
        page.click("#verify-submit")
        page.wait_for_function("() => document.getElementById('verify-submit').disabled")
        enroll(page, "wifi", "The wifi drops in the meeting room.")
        enroll(page, "vpn", "The VPN is slow in the evening.")
        assert page.inner_text("#verify-result").startswith("Embedding the text")
        held[0].continue_()
        page.unroute("**/verify")  # after continue_: unroute lets a held one go
        page.wait_for_selector("#verify-submit:not([disabled])")
        assert page.inner_text("#verify-result") == verdict  # answered, with no note
