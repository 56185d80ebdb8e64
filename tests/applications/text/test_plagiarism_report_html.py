"""The plagiarism report's HTML as a reader uses it (no model: reports built by hand)."""

from __future__ import annotations

import re

from siamkit.applications.text.documents import Document
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


def test_the_page_says_where_its_threshold_came_from(tiny_hf, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The page said 'sentences matched at cosine similarity ≥ 0.720.' alone, while the command
    printed where 0.72 came from (all-MiniLM-L6-v2's sentence default, the model's calibrated
    threshold or the user's): a reader of the page could not tell what the matches were held
    to. The page now says it as the command does."""
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    (tmp_path / "sources").mkdir()
    copied = "The bushfire burned thousands of hectares of forest west of Sydney."
    (tmp_path / "sources" / "doc.txt").write_text(f"{copied} The town was saved by the crews.")
    essay = tmp_path / "essay.txt"
    essay.write_text(f"My essay begins with an original thought about gardening. {copied}")
    out = tmp_path / "report.html"
    base = ["text", "plagiarism", str(essay), "--corpus", str(tmp_path / "sources")]
    base += ["--model", str(tiny_hf), "--out", str(out), "--device", "cpu"]
    for threshold, said in [
        (
            "auto",
            "≥ 0.720 (all-MiniLM-L6-v2&#x27;s sentence default, the best F1 on synthetic edits",
        ),
        ("0.99", "≥ 0.990 (the threshold given with --threshold)."),
    ]:
        res = CliRunner().invoke(cli, [*base, "--threshold", threshold])
        assert res.exit_code == 0, res.output
        assert said in out.read_text()


def test_a_report_without_matches_says_so_and_shows_no_empty_table() -> None:
    """A suspect that matched nothing got '0 matched span(s) from 0 of 20 source(s)', a sources
    table reading 'no match', a sentence explaining highlights it did not have and the
    side-by-side table's header over nothing. It now says that no sentence matched, and shows
    the text alone."""
    full = _report(2)
    report = PlagiarismReport(full.suspect, full.sources, [], [], 0.72, 0)
    page = render_report(report, "given")
    said = (
        "<p>No sentence of essay.txt matched a sentence of the 2 sources at cosine similarity "
        "≥ 0.720 (the threshold given with --threshold).</p>"
    )
    assert said in page
    assert "<table" not in page and "highlighted" not in page and "0 matched" not in page
    assert f"<div class='doc'>{report.suspect.text}</div>" in page


def test_the_page_keeps_a_margin_on_a_narrow_window() -> None:
    """The body's only side margin was 'auto' beside max-width 1200px: in a window narrower
    than that (a laptop's half screen, a phone) the text touched the window's edges. The body
    now keeps a padding on its sides."""
    css = re.search(r"body\{([^}]*)\}", render_report(_report(1))).group(1)  # type: ignore[union-attr]
    assert "padding:0 1em" in css.split(";")


class _Vectors:
    """An embedder (the ONNX runtime's interface) with a fixed unit vector per sentence."""

    last_chunked = 0

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed(self, items, batch_size=64, progress=None, role="query"):  # type: ignore[no-untyped-def]
        import numpy as np

        rows = np.array([self.table[t] for t in items], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


# a suspect of a copied sentence, a near miss (0.70 to b.txt's, 0.02 under 0.72) and a far one
COPIED, CLOSE, FAR = (
    "The crews saved the town from the fire.",
    "Firefighters protected the small town.",
    "My garden grows tomatoes every summer.",
)
SRC_A, SRC_B = COPIED, "Fire crews kept the town safe."


def _near_miss_vectors() -> _Vectors:
    """Unit vectors giving COPIED 1.0 to SRC_A, CLOSE 0.70 to SRC_B, FAR 0.30 to SRC_A."""
    import math

    return _Vectors(
        {
            COPIED: [1, 0, 0],
            SRC_B: [0, 1, 0],
            CLOSE: [0, 0.70, math.sqrt(1 - 0.70**2)],  # 0.70 to SRC_B: 0.02 under 0.72
            FAR: [0.3, 0, math.sqrt(1 - 0.09)],  # 0.30 to SRC_A: far under
        }
    )


def test_sentences_just_under_the_threshold_are_listed_apart_as_near_misses() -> None:
    """A suspect sentence scoring 0.70 at threshold 0.72 was invisible: neither highlighted nor
    listed. The report now lists such near misses (at most 0.05 under the threshold) in their
    own section of the page and of --json, labelled below the threshold; scores leave them out."""
    import json

    from siamkit.applications.text.plagiarism import find_plagiarism

    copied, close, far, src_a, src_b = COPIED, CLOSE, FAR, SRC_A, SRC_B
    runtime = _near_miss_vectors()
    essay = Document("essay.txt", f"{copied} {close} {far}")
    sources = [Document("a.txt", src_a), Document("b.txt", src_b)]
    report = find_plagiarism(None, essay, sources, 0.72, runtime=runtime)  # type: ignore[arg-type]
    assert [(s.source, s.spans) for s in report.scores] == [("a.txt", 1)]  # b.txt: no score
    assert len(report.near_misses) == 1
    miss = report.near_misses[0]
    assert (miss.source, round(miss.similarity, 4)) == ("b.txt", 0.70)
    assert essay.text[miss.suspect_start : miss.suspect_end] == close
    doc = json.loads(json.dumps(report.to_json()))
    assert doc["near_misses"]["pairs"] == [
        {**vars(miss), "similarity": doc["near_misses"]["pairs"][0]["similarity"]}
    ]
    assert (
        doc["near_misses"]["within"] == 0.05 and "below the threshold" in doc["near_misses"]["note"]
    )
    assert [s["source"] for s in doc["scores"]] == ["a.txt"]
    page = render_report(report)
    section = page.split("<h2>Near misses (below the threshold, not counted)</h2>", 1)[1]
    assert close in section and src_b in section and "0.700" in section
    assert far not in section and "count in no score" in section
    doc_text = page.split("<div class='doc'>", 1)[1].split("</div>", 1)[0]
    assert "<mark" not in doc_text.split(copied, 1)[1]  # the near miss is not highlighted
    none = find_plagiarism(None, essay, sources, 0.5, runtime=runtime)  # type: ignore[arg-type]
    assert none.near_misses == [] and "Near misses" not in render_report(none)


def test_the_printed_summary_lists_the_near_misses_too(tiny_hf, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The HTML report and --json listed the near misses (c9314df), the summary printed without
    --json did not: on the terminal a sentence just under the threshold stayed invisible. The
    summary now lists them apart, with --json's note, after the sources' scores."""
    from click.testing import CliRunner

    from siamkit.applications.text import plagiarism as plagiarism_mod
    from siamkit.cli.main import cli

    copied, close, far, src_a, src_b = COPIED, CLOSE, FAR, SRC_A, SRC_B
    vectors = _near_miss_vectors()
    real = plagiarism_mod.find_plagiarism
    monkeypatch.setattr(  # the command's own call, with the hand-built embeddings
        plagiarism_mod,
        "find_plagiarism",
        lambda m, d, s, t, **kw: real(m, d, s, t, runtime=vectors),
    )
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "a.txt").write_text(src_a)
    (tmp_path / "sources" / "b.txt").write_text(src_b)
    essay = tmp_path / "essay.txt"
    essay.write_text(f"{copied} {close} {far}")
    args = ["text", "plagiarism", str(essay), "--corpus", str(tmp_path / "sources")]
    args += ["--model", str(tiny_hf), "--device", "cpu", "--threshold", "0.72"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    share = len(copied) / len(copied + close + far)  # of the suspect's sentence characters
    assert res.output.splitlines()[1:4] == [
        f"  a.txt: {share:.1%} of essay.txt, mean similarity 1.000",
        "1 near miss below the threshold (by at most 0.05): not matches, counted in no score",
        f'  b.txt: similarity 0.700, "{close}"',
    ], res.output
    assert far not in res.output
