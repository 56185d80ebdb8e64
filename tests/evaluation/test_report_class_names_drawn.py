"""Class names in the report's figures are drawn as the user named them: matplotlib reads the
text between two ``$`` of a label as mathtext, which drew a class ``$5-$10`` as an italic ``5-``
and failed the report on a name whose mathtext does not parse (``a$}$``), at the end of a run."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest
from matplotlib.text import Text

import siamkit.evaluation.report as report_mod
from siamkit.evaluation import evaluate_embeddings
from siamkit.evaluation.report import render_report_html

NAMES = ["a$}$", "$5-$10", "<b>x&amp;", "plain"]


class _FirstColumn(HTMLParser):
    """The first cell of each row of the page's tables, as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self.tags: set[str] = set()
        self.at: list[str] | None = None
        self.first = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self.first = True
        elif tag == "td" and self.first:
            self.at, self.first = [], False

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.at is not None:
            self.cells.append("".join(self.at))
            self.at = None

    def handle_data(self, data: str) -> None:
        if self.at is not None:
            self.at.append(data)


def _drawn(fig: Any) -> list[tuple[str, bool]]:
    """Each text of ``fig`` as matplotlib draws it: (the characters, whether as mathtext)."""
    return [t._preprocess_math(t.get_text()) for t in fig.findobj(Text) if t.get_text()]


def test_class_names_with_dollars_are_drawn_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 8)
    z = (rng.normal(size=(32, 6)) + 3 * np.eye(6)[labels]).astype(np.float32)
    images = rng.random((32, 1, 8, 8)).astype(np.float32)
    rep = evaluate_embeddings(z, labels, few_shot=((4, 1),), episodes=5, n_query=2)
    figures: list[Any] = []
    real = report_mod._figure_html

    def keep(fig: Any, caption: str, fig_id: str) -> str:
        figures.append((fig_id, fig))
        return real(fig, caption, fig_id)

    monkeypatch.setattr(report_mod, "_figure_html", keep)
    page = render_report_html(
        rep, z, labels, images, NAMES, run_info={"hardware": "test"}, n_queries=4, k=3
    )
    by_id = {fig_id: _drawn(fig) for fig_id, fig in figures}
    for fig_id in ("fig-map", "fig-confusion"):  # every class is named in these two
        shown = [s for s, math in by_id[fig_id] if not math]
        assert not any(math for _, math in by_id[fig_id]), fig_id
        for name in NAMES:
            assert name in shown, (fig_id, name, shown)
    for fig_id in ("fig-neighbours", "fig-impostors", "fig-genuine"):
        assert not any(math for _, math in by_id[fig_id]), fig_id
    # the page's per-class table names them as given too, as text, not markup
    parsed = _FirstColumn()
    parsed.feed(page)
    assert "b" not in parsed.tags
    assert all(name in parsed.cells for name in NAMES)
