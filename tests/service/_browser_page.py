"""What the image page's headless-Chromium tests share (``test_service_e2e.py``; through
conftest's ``page``, ``test_service_e2e_counts.py`` and ``test_service_e2e_remove_item.py``):
the browser, a fresh page on a served service that fails the test on any JavaScript error, and
an enrollment through the page's form."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _service_helpers import CHROMIUM

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def launched_browser() -> Iterator[Any]:
    """Debian's Chromium, headless, under Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def page_on(browser: Any, url: str) -> Iterator[Any]:
    """A fresh browser context (no stored key) on the service's page at ``url``; a JavaScript
    error raised on the page fails the test once it is done."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def enroll_on_page(page: Any, label: str, files: list[Path]) -> None:
    """Enroll ``files`` as ``label`` through the page's form and wait for its answer."""
    page.fill("#enroll-label", label)
    page.set_input_files("#enroll-files", [str(f) for f in files])
    page.click("#enroll-submit")
    # answered: an earlier message naming the label (enrolled into again) is no answer to this
    page.wait_for_selector("#enroll-submit:not([disabled])")
    page.wait_for_selector(f"#enroll-result.ok:has-text('{label}')")
