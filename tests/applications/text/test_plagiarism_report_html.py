"""The plagiarism report's HTML as a reader uses it (no model: reports built by hand)."""

from __future__ import annotations

import re

from siamkit.applications.text.corpus import Document
from siamkit.applications.text.plagiarism import MatchedSpan, PlagiarismReport, SourceScore
from siamkit.applications.text.report_html import _COLOURS, render_report


def _report(n_sources: int) -> PlagiarismReport:
    """A suspect of ``n_sources`` sentences, sentence k copied from source k."""
    sentences = [f"Sentence number {k} was copied from a source." for k in range(n_sources)]
    text = " ".join(sentences)
    spans, start = [], 0
    for k, s in enumerate(sentences):
        spans.append(MatchedSpan(f"src{k}.txt", start, start + len(s), 0, len(s), 1.0, 1))
        start += len(s) + 1
    scores = [SourceScore(f"src{k}.txt", 1 / n_sources, 1.0, 1) for k in range(n_sources)]
    sources = {f"src{k}.txt": s for k, s in enumerate(sentences)}
    return PlagiarismReport(Document("essay.txt", text), sources, spans, scores, 0.72, 0)


def test_each_highlighted_span_leads_to_its_source_when_colours_repeat() -> None:
    """With more matched sources than colours, two sources' spans were highlighted alike in the
    suspect text and nothing else told them apart. Each mark now ends with its span's number,
    a link to its side-by-side row, which names the source."""
    report = _report(len(_COLOURS) + 1)
    page = render_report(report)
    doc = page.split("<div class='doc'>", 1)[1].split("</div>", 1)[0]
    marks = re.findall(r"<mark id=\"span(\d+)\"[^>]*>.*?</mark><sup><a href=\"#pair(\d+)\"", doc)
    assert [(int(a), int(b)) for a, b in marks] == [(k, k) for k in range(len(report.spans))]
    for k, sp in enumerate(report.spans):
        row = page.split(f'<tr id="pair{k}">', 1)[1].split("</tr>", 1)[0]
        assert f'<a href="#span{k}">#{k + 1}</a>' in row and sp.source in row
