"""The HTML report's header counts its items and classes as every message counts
(siamkit.clauses.counted): "1,500 items, 1,000 classes", "1 item"."""

from __future__ import annotations

from types import SimpleNamespace

from siamkit.evaluation.report import _page


def _header(n_items: int, n_classes: int) -> str:
    report = SimpleNamespace(n_items=n_items, n_classes=n_classes, distance="cosine")
    return _page("t", report, [])  # type: ignore[arg-type]


def test_the_header_counts_items_and_classes() -> None:
    assert " · 1,500 items, 1,000 classes · distance: cosine" in _header(1500, 1000)
    assert " · 1 item, 1 class · distance: cosine" in _header(1, 1)
