"""End to end in headless Chromium: a label's listed image is removed with its own remove
button (the confirm dialog accepted), one image, not the label; the list and the gallery count
follow, and the label's last image closes the list and takes the label with it.

Skipped only where Debian's /usr/bin/chromium is absent and the CI variable is unset."""

from __future__ import annotations

from _browser_page import enroll_on_page as _enroll
from _service_helpers import pattern, png_bytes, require_browser

require_browser()


def test_a_listed_image_is_removed_alone_after_the_confirm(page, tmp_path):
    files = {}
    for kind in ("stripes", "disc", "checker"):
        files[kind] = tmp_path / f"{kind}.png"
        files[kind].write_bytes(png_bytes(pattern(kind)))
    asked: list[str] = []

    def accept(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    _enroll(page, "alice", [files["stripes"], files["disc"]])  # #1, #2
    _enroll(page, "bob", [files["checker"]])  # #3
    page.wait_for_selector("#gallery-count:has-text('2 labels, 3 images')")
    page.locator("#gallery-list li", has_text="alice").locator("button.show").click()
    page.wait_for_selector("#label-images-list figure.item >> nth=1")

    page.locator("#label-images-list figure.item", has_text="#2").locator("button").click()
    page.wait_for_selector("#gallery-count:has-text('2 labels, 2 images')")
    assert asked == ["Remove image #2 of \u201calice\u201d? The label keeps its other image."]
    page.wait_for_function(
        "document.querySelectorAll('#label-images-list figure.item').length === 1"
    )
    assert page.inner_text("#label-images-list .item-id") == "#1"
    assert page.is_visible("#label-images")

    page.locator("#label-images-list figure.item", has_text="#1").locator("button").click()
    page.wait_for_selector("#gallery-count:has-text('1 label, 1 image')")
    assert page.is_hidden("#label-images")
    assert page.locator("#gallery-list li").count() == 1
