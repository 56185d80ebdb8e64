"""End to end in headless Chromium: the image page counts in the number a count takes, as the
Python messages do (siamkit.clauses.counted): "Enrolled 1 image", "(2 images in total)", the
gallery's "1 label, 1 image". It said "1 image(s)", "2 label(s), 3 image(s)" (s60 final note,
Counts). Text content is compared whole: "1 image" is a substring of "1 image(s)".

Skipped only where Debian's /usr/bin/chromium is absent and the CI variable is unset."""

from __future__ import annotations

from _browser_page import enroll_on_page as _enroll
from _service_helpers import pattern, png_bytes, require_browser

require_browser()


def _gallery_count(page, text: str) -> None:
    page.wait_for_function(
        "(want) => document.getElementById('gallery-count').textContent === want",
        arg="\u2014 " + text,
    )


def test_one_image_is_one_image_and_two_are_two_images(page, tmp_path):
    files = {}
    for kind in ("stripes", "disc", "checker"):
        files[kind] = tmp_path / f"{kind}.png"
        files[kind].write_bytes(png_bytes(pattern(kind)))
    _enroll(page, "alice", [files["stripes"]])
    assert page.inner_text("#enroll-result") == (
        "Enrolled 1 image as \u201calice\u201d (1 image in total)."
    )
    _gallery_count(page, "1 label, 1 image")
    _enroll(page, "bob", [files["disc"], files["checker"]])
    assert page.inner_text("#enroll-result") == (
        "Enrolled 2 images as \u201cbob\u201d (2 images in total)."
    )
    _gallery_count(page, "2 labels, 3 images")
    page.locator("#gallery-list li", has_text="alice").locator("button.show").click()
    page.wait_for_selector("#label-images-list figure.item")
    assert page.inner_text("#label-images-note") == "1 image enrolled."
    # the page's helper groups the thousands as the Python messages do
    assert page.evaluate("[counted(1234, 'image'), counted(1, 'class', 'classes')]") == [
        "1,234 images",
        "1 class",
    ]
