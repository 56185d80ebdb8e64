"""End to end: the web page in headless Chromium against uvicorn on a free loopback port.

The page enrolls two labels from generated PNGs, identifies and verifies, and the test checks the
texts and thumbnails it shows against distances computed in-process with the same model.

Skipped only where Debian's /usr/bin/chromium is absent and the CI variable is unset; in CI a
missing browser fails the test.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from _browser_page import enroll_on_page as _enroll
from _browser_page import launched_browser, page_on
from _service_helpers import (
    API_KEY,
    as_tensor,
    make_model,
    pattern,
    png_bytes,
    require_browser,
    serve_in_thread,
)

import siamkit

require_browser()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp_path = tmp_path_factory.mktemp("images")
    paths = {}
    for kind in ("stripes", "checker", "disc"):
        paths[kind] = tmp_path / f"{kind}.png"
        paths[kind].write_bytes(png_bytes(pattern(kind)))
    return paths


@pytest.fixture(scope="module")
def model_and_distances():
    """The model with a threshold between a same-image and a different-image distance."""
    net = make_model(threshold=None)
    x = {k: as_tensor(pattern(k)) for k in ("stripes", "checker", "disc")}
    with torch.inference_mode():
        z = {k: net.embed(v)[0] for k, v in x.items()}
    d = {(a, b): float(torch.linalg.vector_norm(z[a] - z[b])) for a in z for b in z}
    different = min(d[a, b] for a in z for b in z if a != b)
    net.threshold = different / 2  # every different pair is rejected, identical images accepted
    return net, d


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory, model_and_distances) -> Iterator[str]:
    """One uvicorn server for the module (the gallery is shared: only one test enrolls)."""
    from siamkit.service import create_app

    gallery = tmp_path_factory.mktemp("gallery") / "gallery.db"
    with serve_in_thread(create_app(model_and_distances[0], gallery, api_key=API_KEY)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with launched_browser() as browser:
        yield browser


@pytest.fixture
def page(browser, server_url: str) -> Iterator[object]:
    """A fresh browser context (no stored key) on the service's page."""
    with page_on(browser, server_url) as page:
        yield page


def _remove(page, label: str, left: str) -> None:
    """Remove ``label`` with its card's button (the confirm dialog accepted) and wait for the
    count ``left``."""
    page.locator("#gallery-list li", has_text=label).locator("button", has_text="remove").click()
    page.wait_for_selector(f"#gallery-count:has-text('{left}')")


def _verify_checker_against_bob(page, url: str, images) -> None:
    """Open the page at ``url``, enroll alice (stripes) and bob (checker), and send a verify of
    the checker image against the label bob."""
    page.set_default_timeout(20_000)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(url + "/")
    _enroll(page, "alice", [images["stripes"]])
    _enroll(page, "bob", [images["checker"]])
    page.check("#verify-mode-label")
    page.set_input_files("#verify-a", str(images["checker"]))
    page.select_option("#verify-label", "bob")
    page.click("#verify-submit")


def test_page_enrolls_identifies_and_verifies(page, images, model_and_distances, tmp_path):
    net, d = model_and_distances
    page.wait_for_selector("#key-box:not([hidden])")
    page.fill("#api-key", API_KEY)
    page.dispatch_event("#api-key", "change")
    page.wait_for_selector("#model-info:has-text('euclidean')")

    _enroll(page, "alice", [images["stripes"]])
    assert "Skipped" not in page.inner_text("#enroll-result")
    _enroll(page, "bob", [images["checker"]])
    # alice's image again: it is not added, and the message says so
    page.fill("#enroll-label", "alice")
    page.set_input_files("#enroll-files", [str(images["stripes"])])
    page.click("#enroll-submit")
    page.wait_for_selector("#enroll-result.ok:has-text('already enrolled')")
    assert page.inner_text("#enroll-result") == (
        "The image is already enrolled as \u201calice\u201d: not added again (1 image in total)."
    )
    page.wait_for_selector("#gallery-list li >> nth=1")
    gallery = page.locator("#gallery-list li")
    assert gallery.count() == 2
    assert [t.split("\n")[0] for t in gallery.all_inner_texts()] == ["alice", "bob"]
    for src in page.locator("#gallery-list img.thumb").evaluate_all("els => els.map(e => e.src)"):
        assert src.startswith("data:image/png;base64,")

    # identify: the stripes image is alice, shown first with her thumbnail; bob second
    page.set_input_files("#identify-file", str(images["stripes"]))
    page.click("#identify-submit")
    page.wait_for_selector("#identify-matches li >> nth=1")
    assert "alice" in page.inner_text("#identify-result")
    rows = page.locator("#identify-matches li")
    assert rows.nth(0).inner_text().startswith("1. alice")
    assert "accepted" in rows.nth(0).inner_text()
    assert rows.nth(1).inner_text().startswith("2. bob")
    assert f"{d['stripes', 'checker']:.4f}" in rows.nth(1).inner_text()
    assert "too far" in rows.nth(1).inner_text()
    # only the match within the threshold is coloured as accepted; bob's margin is shown
    assert rows.nth(0).get_attribute("class") == "match accepted"
    assert rows.nth(1).get_attribute("class") == "match rejected"
    over = d["stripes", "checker"] - net.threshold
    assert f"{over:.4f} over the threshold {net.threshold:.4f}" in rows.nth(1).inner_text()
    assert f"{net.threshold:.4f}" in page.inner_text("#identify-legend")
    thumbs = rows.locator("img.thumb")
    assert thumbs.count() == 2
    assert thumbs.nth(0).evaluate("e => e.complete && e.naturalWidth") == 28  # a real PNG

    # verify: two different patterns are "Different" at the in-process distance
    page.set_input_files("#verify-a", str(images["stripes"]))
    page.set_input_files("#verify-b", str(images["disc"]))
    page.click("#verify-submit")
    page.wait_for_selector("#verify-result:has-text('distance')")
    text = page.inner_text("#verify-result")
    assert text.startswith("Different"), text
    assert f"{d['stripes', 'disc']:.4f}" in text
    over = d["stripes", "disc"] - net.threshold
    assert (
        f"{over:.4f} over the threshold {net.threshold:.4f}" in text
    )  # the margin, not a bare verdict

    page.set_input_files("#verify-b", str(images["stripes"]))
    page.click("#verify-submit")
    page.wait_for_selector("#verify-result.ok")
    text = page.inner_text("#verify-result")
    assert text.startswith("Same") and f"{net.threshold:.4f} under the threshold" in text

    # verify against an enrolled label: the checker image is bob, not alice
    page.check("#verify-mode-label")
    assert page.is_hidden("#verify-b") and page.is_visible("#verify-label")
    page.set_input_files("#verify-a", str(images["checker"]))
    page.select_option("#verify-label", "bob")
    page.click("#verify-submit")
    page.wait_for_selector("#verify-result.ok:has-text('bob')")
    assert page.inner_text("#verify-result").startswith("Same as \u201cbob\u201d")
    page.select_option("#verify-label", "alice")
    page.click("#verify-submit")
    page.wait_for_selector("#verify-result.bad:has-text('alice')")
    assert f"{d['checker', 'stripes']:.4f}" in page.inner_text("#verify-result")

    # a label's images, and what the embedding is made of
    page.locator("#gallery-list li", has_text="alice").locator("button.show").click()
    page.wait_for_selector("#label-images-list img.thumb")
    assert page.locator("#label-images-list img.thumb").count() == 1
    assert "1 image enrolled" in page.inner_text("#label-images-note")
    assert "16-value embeddings" in page.inner_text("#model-info")
    assert page.inner_text("#embedding-summary") == "Why 16 values?"

    shot = Path(os.environ.get("SIAMKIT_SCREENSHOT_DIR", tmp_path)) / "service_page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0

    # removing the label whose images are listed closes the list (it showed removed images)
    page.on("dialog", lambda dialog: dialog.accept())
    _remove(page, "alice", "1 label, 1 image")
    assert page.is_hidden("#label-images")
    assert "error" not in (page.get_attribute("#enroll-result", "class") or "")


def test_page_shows_server_errors(page, tmp_path):
    """A bad upload shows the service's message, not a silent failure."""
    page.fill("#api-key", API_KEY)
    page.dispatch_event("#api-key", "change")
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    page.fill("#enroll-label", "carol")
    page.set_input_files("#enroll-files", str(bad))
    page.click("#enroll-submit")
    page.wait_for_selector("#enroll-result.error")
    assert "not a readable image" in page.inner_text("#enroll-result")
    assert "HTTP" not in page.inner_text("#enroll-result")


def test_page_says_no_face_was_found_not_that_the_gallery_is_empty(page, images):
    """A face model answers a photo without a face with no matches, faces [] and a hint; the
    page read the empty matches as 'The gallery is empty: enroll someone first.' (the answer
    is the face service's, stubbed: this module's model finds no faces)."""
    import json

    hint = "No face was found in 'disc.png'; send a photo in which a face is clearly visible."
    answer = {"threshold": 0.6, "label": None, "matches": [], "faces": [], "hint": hint}
    page.route(
        "**/identify",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(answer)
        ),
    )
    page.set_input_files("#identify-file", str(images["disc"]))
    page.click("#identify-submit")
    page.wait_for_selector("#identify-result.error")
    assert page.inner_text("#identify-result") == hint
    assert page.locator("#identify-matches li").count() == 0


def test_page_says_when_the_largest_of_several_faces_was_used(page, images):
    """A face model's /enroll and /verify answers say in `notes` when a photo showed several
    faces and its largest was used; the page showed only the count and the verdict (the
    answers are the face service's, stubbed: this module's model finds no faces)."""
    import json

    note = "3 faces found in 'disc.png' (image 1); using the largest"
    enrolled = {"label": "team", "item_ids": [], "count": 1, "skipped": 1}
    answers = {
        "enroll": {**enrolled, "already_enrolled": True, "notes": [note]},
        "verify": {
            "same": True,
            "distance": 0.25,
            "threshold": 0.6,
            "margin": 0.35,
            "label": None,
            "notes": [note.replace("(image 1)", "(the first image)")],
        },
    }

    def stub(answer):
        body = json.dumps(answer)
        return lambda route: route.fulfill(status=200, content_type="application/json", body=body)

    for path, answer in answers.items():
        page.route(f"**/{path}", stub(answer))
    page.fill("#enroll-label", "team")
    page.set_input_files("#enroll-files", [str(images["disc"])])
    page.click("#enroll-submit")
    page.wait_for_selector("#enroll-result.ok")
    assert page.inner_text("#enroll-result").endswith(f"(1 image in total). {note}.")
    page.set_input_files("#verify-a", str(images["disc"]))
    page.set_input_files("#verify-b", str(images["stripes"]))
    page.click("#verify-submit")
    page.wait_for_selector("#verify-result.ok")
    text = page.inner_text("#verify-result")
    assert text.startswith("Same") and text.endswith(
        "under the threshold 0.6000. 3 faces found in 'disc.png' (the first image); using the "
        "largest."
    ), text


def test_page_names_the_other_faces_of_a_photo_of_several(page, images):
    """/identify of a photo of several faces answers every face (``faces``, largest first) beside
    the largest face's label and matches; the page showed only the largest face's and said
    nothing of the others, as if the photo held one. The answer is the face service's, stubbed
    (this module's model finds no faces) and checked against the API's own schema."""
    import json

    from playwright.sync_api import expect

    from siamkit.service.schemas import IdentifyResponse

    def match(label: str, distance: float, item_id: int) -> dict[str, object]:
        accepted = distance <= 0.6
        return {"label": label, "distance": distance, "item_id": item_id, "accepted": accepted,
                "margin": 0.6 - distance, "thumbnail": None, "source": None}  # fmt: skip

    def box(left: int, top: int) -> dict[str, object]:
        return {"left": left, "top": top, "right": left + 60, "bottom": top + 60, "score": 2.0}

    faces = [
        {"box": box(17, 18), "label": "ann", "matches": [match("ann", 0.1, 3)]},
        {"box": box(17, 115), "label": None, "matches": [match("bob", 0.62, 1)]},
        {"box": box(121, 18), "label": "bob", "matches": [match("bob", 0.41, 1)]},
    ]
    answer = {"threshold": 0.6, "label": "ann", "matches": faces[0]["matches"], "faces": faces}
    body = IdentifyResponse.model_validate(answer).model_dump_json(exclude_unset=True)
    page.route(
        "**/identify",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )
    page.set_input_files("#identify-file", str(images["disc"]))
    page.click("#identify-submit")
    page.wait_for_selector("#identify-result.ok")
    assert page.inner_text("#identify-result") == (
        "Identified as \u201cann\u201d. 3 faces found; the matches below are the largest face's. "
        "The others, largest first: face 2 at (17, 115): unknown (nearest \u201cbob\u201d, "
        "distance 0.6200); face 3 at (121, 18): \u201cbob\u201d (distance 0.4100)."
    )
    assert page.locator("#identify-matches li").count() == 1
    # one face: nothing added
    one = json.dumps({**answer, "faces": faces[:1]})
    page.unroute("**/identify")
    page.route(
        "**/identify",
        lambda route: route.fulfill(status=200, content_type="application/json", body=one),
    )
    page.click("#identify-submit")
    expect(page.locator("#identify-result")).to_have_text("Identified as \u201cann\u201d.")


def test_page_without_key_reports_401(page, images):
    """With a wrong key the page says so instead of showing results."""
    page.fill("#api-key", "wrong-key")
    page.dispatch_event("#api-key", "change")
    page.set_input_files("#identify-file", str(images["disc"]))
    page.click("#identify-submit")
    page.wait_for_selector("#identify-result.error")
    assert "API key" in page.inner_text("#identify-result")
    assert page.locator("#identify-matches li").count() == 0


def test_docs_are_swagger_ui_from_local_assets(browser, server_url):
    """/docs is Swagger UI with Try it out, every operation listed, and nothing from a CDN."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    outside: list[str] = []
    page.on(
        "request",
        lambda req: None if req.url.startswith(server_url) else outside.append(req.url),
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server_url + "/docs")
    page.wait_for_selector(".opblock-summary-path >> nth=0")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    for path in ("/enroll", "/verify", "/identify", "/embed", "/gallery", "/info", "/health"):
        assert any(p.strip().replace("\u200b", "") == path for p in paths), (path, paths)
    page.locator(".opblock-summary", has_text="/identify").first.click()
    page.wait_for_selector(".try-out__btn")
    assert page.locator(".try-out__btn").first.is_visible()
    # /identify documents its own errors: no 404 (that is /verify's unknown label)
    codes = page.locator(".opblock.is-open .responses-table .response-col_status")
    shown = [c.strip() for c in codes.all_inner_texts()]
    assert "409" in shown and "413" in shown and "404" not in shown, shown
    context.close()
    assert not outside, f"requests outside the service: {outside}"
    assert not errors, errors


def test_page_without_a_gallery_offers_only_verify_of_two_images(
    browser, model_and_distances, images
):
    from siamkit.service import create_app

    net, d = model_and_distances
    name = "runs/<b>shoes</b>/model"  # shown as text: the page named no model, now names it
    with serve_in_thread(create_app(net, None, model_name=name)) as url:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.goto(url + "/")
            page.wait_for_selector("#model-info:has-text('euclidean')")
            assert page.inner_text("#model-info").startswith(f"Model {name}: 16-value embeddings")
            assert page.locator("#model-info b").count() == 0
            for card in ("#enroll-card", "#identify-card", "#gallery-card", "#verify-mode"):
                assert page.is_hidden(card), card
            page.set_input_files("#verify-a", str(images["stripes"]))
            page.set_input_files("#verify-b", str(images["checker"]))
            page.click("#verify-submit")
            page.wait_for_selector("#verify-result.bad")
            assert f"{d['stripes', 'checker']:.4f}" in page.inner_text("#verify-result")
        finally:
            context.close()


def test_the_page_names_both_input_sizes_of_a_half_twin(browser):
    """/info gives a half-twin's reference_input_shape (branch g's) beside input_shape (f's):
    the page said only "images resized to 28×28", though what is enrolled or compared against
    is resized to g's size. It names both when they differ, one size otherwise."""
    from siamkit.models import HalfTwinNetwork, Preprocess
    from siamkit.service import create_app

    torch.manual_seed(0)
    f, g = (siamkit.encoders.create_encoder("convnet", in_channels=c, widths=(8,)) for c in (1, 3))
    net = HalfTwinNetwork(
        f, g, embedding_dim=8, preprocess_f=Preprocess(input_shape=(1, 28, 28)),
        preprocess_g=Preprocess(input_shape=(3, 32, 40)),
    ).eval()  # fmt: skip
    shown = {}
    for name, model in (("half-twin", net), ("one tower", make_model())):
        with serve_in_thread(create_app(model, None)) as url:
            context = browser.new_context()
            try:
                page = context.new_page()
                page.set_default_timeout(20_000)
                page.goto(url + "/")
                page.wait_for_selector("#model-info:has-text('euclidean')")
                shown[name] = page.inner_text("#model-info")
            finally:
                context.close()
    assert shown["half-twin"].endswith(
        ", queries resized to 28\u00d728 (grey), enrolled and reference images to 32\u00d740 (colour)"
    ), shown
    assert shown["one tower"].endswith(", images resized to 28\u00d728 (grey)"), shown


def test_a_failed_identify_leaves_no_earlier_matches(
    browser, model_and_distances, images, tmp_path
):
    """An identify that fails (a non-image, or no file chosen) shows its error with no list or
    legend under it: the rows of the earlier query read as the answer to this one."""
    from siamkit.service import create_app

    net, _ = model_and_distances
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    with serve_in_thread(create_app(net, tmp_path / "gallery.db")) as url:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.goto(url + "/")
            _enroll(page, "alice", [images["stripes"]])

            def identify(path: Path | None) -> None:
                page.set_input_files("#identify-file", [] if path is None else str(path))
                page.click("#identify-submit")

            identify(images["stripes"])
            page.wait_for_selector("#identify-matches li")
            assert page.is_visible("#identify-legend")
            identify(bad)
            page.wait_for_selector("#identify-result.error")
            assert "not a readable image" in page.inner_text("#identify-result")
            assert page.locator("#identify-matches li").count() == 0
            assert page.is_hidden("#identify-legend")

            identify(images["stripes"])
            page.wait_for_selector("#identify-result.ok")
            page.eval_on_selector("#identify-form", "f => { f.noValidate = true; }")
            identify(None)
            page.wait_for_selector("#identify-result.error:has-text('Choose an image')")
            assert page.locator("#identify-matches li").count() == 0
            assert page.is_hidden("#identify-legend")
        finally:
            context.close()


def test_a_gallery_change_clears_the_answers_it_made_stale(
    browser, model_and_distances, images, tmp_path
):
    """A verify against a label stayed on screen after the label was removed, and the last
    enroll message after any removal: a removal clears a verify against the removed label, the
    identify answer and the enroll message; a verify of two images stays, and so does an
    identify answer after an enroll, saying it came before it. An enroll into the label a
    verify was against emptied its box, and dropped the answer of one still out: the answer
    stays, saying it came before, and one still out is shown when it comes."""
    from siamkit.service import create_app

    net, _ = model_and_distances
    with serve_in_thread(create_app(net, tmp_path / "gallery.db")) as url:
        context = browser.new_context()
        try:
            page = context.new_page()
            _verify_checker_against_bob(page, url, images)
            page.wait_for_selector("#verify-result.ok:has-text('bob')")
            page.set_input_files("#identify-file", str(images["stripes"]))
            page.click("#identify-submit")
            page.wait_for_selector("#identify-matches li >> nth=1")
            _remove(page, "alice", "1 label, 1 image")
            assert page.inner_text("#enroll-result") == ""  # it told of enrolling bob
            assert page.inner_text("#identify-result") == ""  # alice was the answer
            assert page.locator("#identify-matches li").count() == 0
            assert page.is_hidden("#identify-legend")
            assert page.inner_text("#verify-result").startswith("Same as \u201cbob\u201d")
            _remove(page, "bob", "0 labels, 0 images")
            assert page.inner_text("#verify-result") == ""

            page.check("#verify-mode-image")
            page.set_input_files("#verify-b", str(images["stripes"]))
            page.click("#verify-submit")
            page.wait_for_selector("#verify-result.bad")
            _enroll(page, "carol", [images["disc"]])
            assert page.inner_text("#verify-result").startswith("Different")
            # an enroll leaves an identify answer in its box, saying it came before the enroll
            page.set_input_files("#identify-file", str(images["disc"]))
            page.click("#identify-submit")
            page.wait_for_selector("#identify-result.ok:has-text('carol')")
            _enroll(page, "dave", [images["stripes"]])
            assert page.inner_text("#identify-result") == (
                "Identified as \u201ccarol\u201d.\nGiven before \u201cdave\u201d was enrolled: "
                "identify again to rank it too."
            )
            assert page.locator("#identify-matches li").count() == 1

            # an enroll into the label a verify was against leaves its answer, saying so once;
            # an enroll into another label leaves it as it was
            page.check("#verify-mode-label")
            page.set_input_files("#verify-a", str(images["disc"]))
            page.select_option("#verify-label", "carol")
            page.click("#verify-submit")
            page.wait_for_selector("#verify-result.ok:has-text('carol')")
            answer = page.inner_text("#verify-result")
            note = (
                "Given before more images of \u201ccarol\u201d were enrolled: verify again to "
                "compare with them too."
            )
            _enroll(page, "carol", [images["checker"]])
            assert page.inner_text("#verify-result.ok") == f"{answer}\n{note}"
            _enroll(page, "carol", [images["stripes"]])
            _enroll(page, "dave", [images["checker"]])
            assert page.inner_text("#verify-result.ok") == f"{answer}\n{note}"
            # a verify against carol still out when an enroll into carol answers is not dropped
            noise = tmp_path / "noise.png"
            noise.write_bytes(png_bytes(pattern("noise")))
            held: list[Any] = []

            def hold(route: Any) -> None:
                held.append(route)

            page.route("**/verify", hold)
            page.set_input_files("#verify-a", str(noise))
            page.click("#verify-submit")
            page.wait_for_function("() => document.getElementById('verify-submit').disabled")
            _enroll(page, "carol", [noise])
            assert len(held) == 1
            held[0].continue_()
            page.unroute("**/verify")  # after continue_: unroute lets a held one go
            page.wait_for_selector("#verify-submit:not([disabled])")
            assert page.inner_text("#verify-result.ok").startswith("Same as \u201ccarol\u201d")
            assert page.locator("#verify-result .given-before").count() == 0
            # a removal still clears it: the answer names the removed label
            _remove(page, "carol", "1 label")
            assert page.inner_text("#verify-result") == ""
        finally:
            context.close()


class HoldVerifyAnswers:
    """The app, with each /verify answer held back (computed, not sent) until ``release`` is
    set; ``computed`` is set when one is waiting."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.computed = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/verify":
            return await self.app(scope, receive, send)

        async def held_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.computed.set()
                while not self.release.is_set():
                    await asyncio.sleep(0.01)
            await send(message)

        return await self.app(scope, receive, held_send)


def test_a_verify_answer_arriving_after_its_label_was_removed_is_dropped(
    browser, model_and_distances, images, tmp_path
):
    """A verify against a label still in flight when the label is removed showed its answer
    when it came: the page drops it (the removal had cleared the box, which stays empty); a
    later verify of two images still answers."""
    from siamkit.service import create_app

    net, _ = model_and_distances
    app = HoldVerifyAnswers(create_app(net, tmp_path / "gallery.db"))
    with serve_in_thread(app) as url:
        context = browser.new_context()
        try:
            page = context.new_page()
            _verify_checker_against_bob(page, url, images)
            assert app.computed.wait(20)  # "Same as bob", computed while bob is enrolled
            _remove(page, "bob", "1 label, 1 image")
            with page.expect_response("**/verify") as answer:
                app.release.set()  # ... reaches the page after the removal
            assert answer.value.ok and answer.value.json()["label"] == "bob"
            # the button comes back after the answer is handled (busy's finally): shown or not
            page.wait_for_selector("#verify-submit:not([disabled])")
            assert page.inner_text("#verify-result") == ""

            page.check("#verify-mode-image")
            page.set_input_files("#verify-b", str(images["checker"]))
            page.click("#verify-submit")
            page.wait_for_selector("#verify-result.ok")
            assert page.inner_text("#verify-result").startswith("Same")
        finally:
            context.close()


LONG = "x" * 128 + "y" * 128  # a 256-character label with no space


@pytest.fixture
def long_label_page(browser, model_and_distances, images, tmp_path: Path) -> Iterator[object]:
    """A page on a service of its own, whose gallery holds 'bob' and a :data:`LONG` label
    enrolled through it."""
    from siamkit.service import create_app

    app = create_app(model_and_distances[0], tmp_path / "gallery.db")
    with serve_in_thread(app) as url, page_on(browser, url) as page:
        _enroll(page, "bob", [images["checker"]])
        _enroll(page, LONG, [images["stripes"]])
        yield page


def test_a_long_label_without_spaces_keeps_its_gallery_card_one_line_high(long_label_page):
    """A 256-character label with no space broke into a column of letters many lines high: the
    card shows it on one line, cut with an ellipsis, the whole label in its tooltip (title)."""
    page, long = long_label_page, LONG
    page.wait_for_selector("#gallery-list li >> nth=1")
    cards = page.locator("#gallery-list li")
    # (the grid stretches the cards of a row alike: their names' heights tell)
    short, name = (cards.filter(has_text=t).locator(".name") for t in ("bob", "xxxx"))
    short_box, long_box = short.bounding_box(), name.bounding_box()
    assert short_box is not None and long_box is not None
    assert long_box["height"] == short_box["height"], (long_box, short_box)
    card = cards.filter(has_text="xxxx").bounding_box()
    assert card is not None and card["height"] < 120, card  # about the thumbnail's
    assert card["width"] == cards.filter(has_text="bob").bounding_box()["width"]  # type: ignore[index]
    assert name.get_attribute("title") == long
    assert name.evaluate("e => e.scrollWidth > e.clientWidth")  # cut, not wrapped
    assert name.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"


def test_a_long_label_without_spaces_keeps_the_rest_of_the_page_one_line_high(
    long_label_page, images
):
    """Past the gallery cards, a 256-character label with no space still made the "Images of"
    heading two lines high, broke the identify rows into lines of letters, and ran the messages
    quoting it far past their cards (the page scrolled sideways): the heading and the rows show
    it on one line, cut with an ellipsis, the whole label in a title; a message wraps it."""
    one_line = (
        "e => e.getBoundingClientRect().height < 1.5 * parseFloat(getComputedStyle(e).lineHeight)"
    )
    sideways = "() => document.documentElement.scrollWidth - window.innerWidth"
    page, long = long_label_page, LONG
    cards = [page.locator(f"#{c}-card") for c in ("enroll", "verify", "identify")]
    widths = [c.bounding_box()["width"] for c in cards]  # type: ignore[index]

    page.set_input_files("#identify-file", str(images["stripes"]))
    page.click("#identify-submit")
    page.wait_for_selector("#identify-matches li >> nth=1")
    rows = page.locator("#identify-matches li")
    name = rows.filter(has_text="xxxx").locator(".name")
    assert name.get_attribute("title") == long
    assert name.evaluate(one_line), name.bounding_box()
    assert name.evaluate("e => e.scrollWidth > e.clientWidth")  # cut, not wrapped
    assert name.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
    short = rows.filter(has_text="bob").bounding_box()
    row = rows.filter(has_text="xxxx").bounding_box()
    assert short is not None and row is not None and row["height"] == short["height"]

    page.check("#verify-mode-label")
    page.select_option("#verify-label", long)
    select = page.locator("#verify-label").bounding_box()
    card = cards[1].bounding_box()
    assert select is not None and card is not None
    assert select["x"] + select["width"] <= card["x"] + card["width"], (select, card)
    page.set_input_files("#verify-a", str(images["stripes"]))
    page.click("#verify-submit")
    page.wait_for_selector("#verify-result.ok")
    assert [c.bounding_box()["width"] for c in cards] == widths  # type: ignore[index]
    assert page.evaluate(sideways) == 0  # the enroll, verify and identify messages

    page.locator("#gallery-list li", has_text="xxxx").locator("button.show").click()
    page.wait_for_selector("#label-images-list img")
    title = page.locator("#label-images-title")
    assert title.get_attribute("title") == long
    assert title.evaluate(one_line), title.bounding_box()
    assert title.evaluate("e => e.scrollWidth > e.clientWidth")
    assert title.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
    assert page.evaluate(sideways) == 0
