"""Class names in the report's figures are drawn as the user named them: matplotlib reads the
text between two ``$`` of a label as mathtext, which drew a class ``$5-$10`` as an italic ``5-``
and failed the report on a name whose mathtext does not parse (``a$}$``), at the end of a run."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import matplotlib
import numpy as np
import pytest
from matplotlib.text import Text

import siamkit.evaluation.report as report_mod
from siamkit.evaluation import evaluate_embeddings
from siamkit.evaluation.plots import plot_embedding_map
from siamkit.evaluation.plots._figure import class_colors
from siamkit.evaluation.report import render_report_html

NAMES = ["a$}$", "$5-$10", "<b>x&amp;", "plain", "_other"]


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


def _drawn(texts: Any) -> list[tuple[str, bool]]:
    """Each of ``texts`` as matplotlib draws it: (the characters, whether as mathtext)."""
    return [t._preprocess_math(t.get_text()) for t in texts if t.get_text()]


def _literal(texts: Any) -> list[str]:
    """The characters of ``texts`` as drawn, none of them drawn as mathtext."""
    drawn = _drawn(texts)
    assert not any(math for _, math in drawn), drawn
    return [s for s, _ in drawn]


def _xlabels(fig: Any) -> list[str]:
    return _literal(ax.xaxis.label for ax in fig.axes)


@pytest.mark.parametrize(
    ("named", "parse_math"),
    [(True, True), (False, True), (True, False)],
    ids=["class_names", "string-labels", "parse_math-off"],
)
def test_class_names_with_dollars_are_drawn_literally(
    monkeypatch: pytest.MonkeyPatch, named: bool, parse_math: bool
) -> None:
    """``string-labels``: ``write_report(path, rep, z, labels)`` with names as the labels and no
    ``class_names`` drew them as mathtext (``a$}$`` failed); ``parse_math-off``: under a
    matplotlibrc's ``text.parse_math: False`` an escape was drawn as a backslash; ``_other``
    had no entry in the map's legend."""
    rng = np.random.default_rng(0)
    codes = np.repeat(np.arange(len(NAMES)), 8)
    z = (rng.normal(size=(codes.size, 6)) + 3 * np.eye(6)[codes]).astype(np.float32)
    images = rng.random((codes.size, 1, 8, 8)).astype(np.float32)
    labels = codes if named else np.array(NAMES, dtype=object)[codes]
    rep = evaluate_embeddings(z, labels, few_shot=((4, 1),), episodes=5, n_query=2)
    figures: list[Any] = []
    real = report_mod._figure_html

    def keep(fig: Any, caption: str, fig_id: str) -> str:
        figures.append((fig_id, fig))
        return real(fig, caption, fig_id)

    monkeypatch.setattr(report_mod, "_figure_html", keep)
    with matplotlib.rc_context({"text.parse_math": parse_math}):
        page = render_report_html(
            rep,
            z,
            labels,
            images,
            NAMES if named else None,
            run_info={"hardware": "test"},
            n_queries=len(NAMES),  # one query per class: each is named in the grid
            k=3,
        )
    by_id = dict(figures)
    for fig in by_id.values():  # nothing of any figure as mathtext, but the log axis' ticks
        for text in fig.findobj(Text):
            if "mathdefault" not in text.get_text():
                _literal([text])
    legend = _literal(by_id["fig-map"].axes[0].get_legend().get_texts())
    assert sorted(legend) == sorted(NAMES)
    for ax in by_id["fig-confusion"].axes:
        for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
            assert sorted(_literal(ticks)) == sorted(NAMES)
    captions = _xlabels(by_id["fig-neighbours"])
    queries = [c.removeprefix("query: ") for c in captions if c.startswith("query: ")]
    assert sorted(queries) == sorted(NAMES)
    neighbours = [c.split("\n")[0] for c in captions if not c.startswith("query: ")]
    assert neighbours and set(neighbours) <= set(NAMES), neighbours
    for fig_id, same in (("fig-impostors", False), ("fig-genuine", True)):
        drawn = _xlabels(by_id[fig_id])  # the top row's names, then the bottom row's
        cols = len(drawn) // 2
        assert cols and set(drawn) <= set(NAMES), (fig_id, drawn)
        assert all((a == b) == same for a, b in zip(drawn[:cols], drawn[cols:])), drawn
    # the page's per-class table names them as given too, as text, not markup
    parsed = _FirstColumn()
    parsed.feed(page)
    assert "b" not in parsed.tags
    assert all(name in parsed.cells for name in NAMES)


def test_a_class_named_with_an_underscore_first_has_its_legend_entry() -> None:
    """matplotlib leaves out of a legend an artist whose label starts with ``_``; a class folder
    ``_background`` (the folder reader keeps it) had no entry in the embedding map."""
    rng = np.random.default_rng(0)
    codes = np.repeat(np.arange(3), 5)
    z = rng.normal(size=(15, 4)).astype(np.float32)
    names = ["_background", "cat", "_dog"]
    for labels, order in ((codes, names), (np.array(names)[codes], sorted(names))):
        fig = plot_embedding_map(z, labels, names if labels is codes else None)
        legend = fig.axes[0].get_legend()
        texts = _literal(legend.get_texts())
        assert sorted(texts) == sorted(names)
        # each entry shows its class's colour (the classes' colours in label order)
        points = [tuple(p.get_facecolor()[0][:3]) for p in fig.axes[0].collections]
        for text, handle in zip(texts, legend.legend_handles):
            colour = tuple(class_colors(3)[order.index(text)][:3])
            assert tuple(handle.get_facecolor()[0][:3]) == colour
            assert colour in points
