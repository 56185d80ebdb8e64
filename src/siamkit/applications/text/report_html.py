"""A self-contained HTML plagiarism report: the suspect with matched spans highlighted, each
span beside its source passage, and a score per source. No scripts, no external files."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from siamkit.applications.text.plagiarism import NEAR_MISS_MARGIN, PlagiarismReport
from siamkit.clauses import counted, in_number

_COLOURS = ("#ffe08a", "#a8e6cf", "#ffb3ba", "#bae1ff", "#e0bbff", "#ffdfba", "#c9f7f5")
_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;padding:0 1em;max-width:1200px;color:#222}
table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border:1px solid #ccc;padding:.4em;vertical-align:top}
th{background:#f4f4f4;text-align:left}mark{padding:0 .1em;border-radius:3px}
sup a{text-decoration:none;font-weight:600;color:#444}
.doc{white-space:pre-wrap;border:1px solid #ddd;padding:1em;background:#fcfcfc}.num{text-align:right}
"""


def _highlight(text: str, spans: list[tuple[int, int, str, int, str]]) -> str:
    """``text`` with each span ``(start, end, colour, k, source)`` marked and followed by its
    number, a link to its row of the side-by-side table: the colours repeat after
    ``len(_COLOURS)`` sources, so a colour alone does not say which source a span matches."""
    out, pos = [], 0
    for start, end, colour, k, source in sorted(spans):
        if start < pos:
            continue
        out.append(escape(text[pos:start]))
        out.append(
            f'<mark id="span{k}" style="background:{colour}" title="#{k + 1}: '
            f'{escape(source)}">{escape(text[start:end])}</mark>'
            f'<sup><a href="#pair{k}" title="{escape(source)}">{k + 1}</a></sup>'
        )
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def _near_misses(report: PlagiarismReport) -> str:
    """The near-miss section: sentences just under the threshold, labelled as below it and
    outside every score; ``""`` when there is none."""
    if not report.near_misses:
        return ""
    rows = "".join(
        f"<tr><td>{escape(report.suspect.text[m.suspect_start : m.suspect_end])}</td>"
        f"<td>{escape(m.source)}<br>"
        f"{escape(report.sources[m.source][m.source_start : m.source_end])}</td>"
        f'<td class="num">{m.similarity:.3f}</td></tr>'
        for m in report.near_misses
    )
    return (
        "<h2>Near misses (below the threshold, not counted)</h2>"
        f"<p>The {counted(len(report.near_misses), 'suspect sentence')} closest to a match, "
        f"at most {NEAR_MISS_MARGIN} below the threshold {report.min_similarity:.3f}: they are not "
        "matches, are not highlighted and count in no score above. Shown for you to judge.</p>"
        "<table><tr><th>suspect sentence</th><th>closest source sentence</th>"
        f"<th>similarity</th></tr>{rows}</table>"
    )


def render_report(
    report: PlagiarismReport, threshold_source: str | None = None, left_out: Sequence[str] = ()
) -> str:
    """The report as one HTML document (a string); ``threshold_source``: where its threshold came
    from (the second value of :func:`~siamkit.applications.text.similarity.resolve_threshold`),
    said beside it so that a reader of the page alone knows what the matches were held to;
    ``left_out``: lines saying what of the sources was not compared (the corpus's
    :meth:`~siamkit.applications.text.corpus.Corpus.notes`: a .pdf or .docx skipped, a blank
    text), listed under the summary so that the page does not pass them for checked.

    >>> Path("report.html").write_text(render_report(report, source))  # doctest: +SKIP
    """
    colour = {s.source: _COLOURS[k % len(_COLOURS)] for k, s in enumerate(report.scores)}
    marks = [
        (sp.suspect_start, sp.suspect_end, colour[sp.source], k, sp.source)
        for k, sp in enumerate(report.spans)
    ]
    rows = "".join(
        f'<tr><td><mark style="background:{colour[s.source]}">{escape(s.source)}</mark></td>'
        f'<td class="num">{s.coverage:.1%}</td><td class="num">{s.mean_similarity:.3f}</td>'
        f'<td class="num">{s.spans}</td></tr>'
        for s in report.scores
    )
    pairs = "".join(
        f'<tr id="pair{k}"><td><a href="#span{k}">#{k + 1}</a> {escape(report.suspect.text[sp.suspect_start : sp.suspect_end])}</td>'
        f'<td><mark style="background:{colour[sp.source]}">{escape(sp.source)}</mark><br>'
        f"{escape(report.sources[sp.source][sp.source_start : sp.source_end])}</td>"
        f'<td class="num">{sp.similarity:.3f}</td></tr>'
        for k, sp in enumerate(report.spans)
    )
    were = in_number(report.chunked, "was", "were")
    note = (
        f"<p>{counted(report.chunked, 'passage')} {were} longer than the model's window and "
        f"{were} embedded as overlapping windows, averaged.</p>"
        if report.chunked
        else ""
    )
    if left_out:
        items = "".join(f"<li>{escape(line)}</li>" for line in left_out)
        note += f"<p>Not compared with the suspect:</p><ul>{items}</ul>"
    origin = ""
    if threshold_source == "given":
        origin = " (the threshold given with --threshold)"
    elif threshold_source:
        origin = f" ({escape(threshold_source)})"
    head = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Plagiarism report: "
        f"{escape(report.suspect.id)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Plagiarism report: {escape(report.suspect.id)}</h1>"
    )
    held_to = f"cosine similarity ≥ {report.min_similarity:.3f}{origin}"
    if not report.spans:  # no highlight to explain, no pair to show
        return (
            f"{head}<p>No sentence of {escape(report.suspect.id)} matched a sentence of the "
            f"{counted(len(report.sources), 'source')} at {held_to}.</p>{note}"
            f"<h2>Suspect text</h2><div class='doc'>{escape(report.suspect.text)}</div>"
            f"{_near_misses(report)}</body></html>"
        )
    return (
        f"{head}<p>{counted(len(report.spans), 'matched span')} from {len(report.scores):,} of "
        f"{counted(len(report.sources), 'source')}; sentences matched at {held_to}.</p>{note}"
        f"<h2>Sources</h2><table><tr><th>source</th><th>coverage of the suspect</th>"
        f"<th>mean similarity</th><th>spans</th></tr>{rows}</table>"
        "<h2>Suspect text</h2><p>Each highlighted passage ends with its span's number: it links to "
        "the passage beside the source text it matches, below.</p>"
        f"<div class='doc'>{_highlight(report.suspect.text, marks)}</div>"
        f"<h2>Matched spans, side by side</h2><table><tr><th>suspect</th><th>source</th>"
        f"<th>similarity</th></tr>{pairs}</table>{_near_misses(report)}</body></html>"
    )
