"""What an editor deduplicating a folder of articles and a teacher checking essays against a
folder of sources met (issue 16's walk): web pages and a CMS export's HTML bodies read as markup,
two files compared by their names, ids of an 'Article ID' column lost, non-UTF-8 files met one per
run, a Word essay told to be re-encoded, a folder of essays, a report silent on skipped sources,
and windowed sentences counted as texts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from siamkit.applications.text.corpus import load_corpus
from siamkit.applications.text.html_text import html_text
from siamkit.cli import _text_common
from siamkit.cli.main import cli

COPIED = [
    "Unions are fighting a proposed wage freeze and want a better career structure for staff.",
    "The union secretary says members will not rest until a satisfactory outcome is reached.",
    "Talks will resume tomorrow morning in the Industrial Relations Commission in Sydney.",
]
OTHER = [
    "Bushfires burned through thousands of hectares of forest west of the city this week.",
    "Firefighters expect hot and windy conditions to make their work harder on Saturday.",
]
ESSAY = (
    "In this essay I look at work and pay in my own words, as a student who reads the news.\n\n"
    + " ".join(COPIED)
    + "\n\nI think that people should think carefully before they judge either side of it.\n"
)


@pytest.fixture
def run(text_model, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_text_common, "_model", lambda path, device=None: text_model)
    return lambda *args: CliRunner().invoke(cli, ["text", *args])


def _page(sentences: list[str]) -> str:
    """A web page as a site saves it: a head, one <p> per sentence, no space between tags."""
    return (
        "<!doctype html><html><head><title>Pay talks</title><style>p{margin:0}</style></head>"
        "<body><h1>Pay talks continue</h1>"
        + "".join(f"<p>{s}</p>" for s in sentences)
        + "<script>var x = 1;</script></body></html>\n"
    )


def test_html_text_keeps_the_words_a_page_shows_one_paragraph_per_block() -> None:
    page = _page(["Fish &amp; chips.", "Tea <b>or</b>  coffee?"])
    assert html_text(page) == "Pay talks continue\n\nFish & chips.\n\nTea or coffee?"
    assert html_text("No markup here. Two.\n\nThree.") == "No markup here. Two.\n\nThree."
    # HTML lets a page leave out </head> and <body>: its paragraphs are still shown
    assert html_text("<html><head><title>T</title><p>Shown.</p><p>Too.") == "Shown.\n\nToo."


def test_an_html_source_is_matched_by_its_words_and_reported_without_markup(
    run: Any, tmp_path: Path
) -> None:
    """A source saved as a web page was read as its markup: its <p> sentences, with no space
    between the tags, made one long 'sentence' (windows averaged), so the essay copying three of
    them matched nothing, and a report would have shown tags beside the suspect's words."""
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "pay.html").write_text(_page(OTHER[:1] + COPIED + OTHER[1:]))
    (sources / "fires.txt").write_text(" ".join(OTHER) + "\n")
    essay = tmp_path / "essay.txt"
    essay.write_text(ESSAY)
    out = tmp_path / "report.html"
    res = run("plagiarism", str(essay), "--corpus", str(sources), "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    found = json.loads(res.stdout)
    [span] = found["spans"]
    assert span["source"] == "pay.html" and span["sentences"] == 3
    text = load_corpus(sources)[1].text  # pay.html as the report shows it
    assert text[span["source_start"] : span["source_end"]].split() == " ".join(COPIED).split()
    assert "<p>" not in out.read_text().split("side by side")[1].replace("&lt;", "<")


def test_an_html_suspect_is_checked_by_its_words(run: Any, tmp_path: Path) -> None:
    """An essay handed in as a web page was checked as its markup: one 'sentence' matching
    nothing."""
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "pay.txt").write_text(" ".join(OTHER[:1] + COPIED + OTHER[1:]) + "\n")
    (sources / "fires.txt").write_text(" ".join(OTHER) + "\n")
    essay = tmp_path / "essay.html"
    essay.write_text(_page(COPIED))
    res = run("plagiarism", str(essay), "--corpus", str(sources), "--json")
    assert res.exit_code == 0, res.output
    [span] = json.loads(res.stdout)["spans"]
    assert span["source"] == "pay.txt" and span["sentences"] == 3


def test_similarity_of_two_files_compares_their_texts_as_documents(
    run: Any, text_model: Any, tmp_path: Path
) -> None:
    """`text similarity a.txt b.txt` compared the two file names ('a.txt', 'b.txt') and said
    'same' at the sentence threshold: an editor comparing two articles got a verdict on their
    names. An argument naming a file is now read, and two files are documents, held to the
    document threshold text dedup holds them to."""
    a, b = tmp_path / "pay.txt", tmp_path / "fires.html"
    a.write_text(" ".join(COPIED) + "\n")
    b.write_text(_page(OTHER))
    res = run("similarity", str(a), str(b), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    z = text_model.embed([" ".join(COPIED), "Pay talks continue\n\n" + "\n\n".join(OTHER)])
    assert out["similarity"] == pytest.approx(float(z[0] @ z[1]), abs=1e-5)
    assert out["min_similarity"] == pytest.approx(0.88) and out["same"] is False
    assert out["threshold_source"].startswith("all-MiniLM-L6-v2's document default")
    assert f"A: the text of the file {a} (" in res.stderr
    res = run("similarity", str(a), "Unions want a better career structure.", "--json")
    assert json.loads(res.stdout)["min_similarity"] == pytest.approx(0.72)  # one is a sentence
    (tmp_path / "empty.txt").write_text("\n")
    res = run("similarity", str(tmp_path / "empty.txt"), str(a))
    assert res.exit_code == 2 and "A names the file" in res.output and "Traceback" not in res.output


def _export(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return path


def test_a_csv_exports_article_id_column_gives_the_groups_their_ids(
    run: Any, tmp_path: Path
) -> None:
    """A CMS export with the header 'Article ID,Title,Body' was deduplicated with its articles
    numbered by row: groups.jsonl listed 1 and 3 instead of ART-17 and ART-19, without a word."""
    corpus = _export(
        tmp_path / "export.csv",
        "Article ID,Title,Body",
        [f"ART-17,Pay,{COPIED[0]}", f"ART-18,Fires,{OTHER[0]}", f"ART-19,Pay again,{COPIED[0]}"],
    )
    out = tmp_path / "groups.jsonl"
    res = run("dedup", str(corpus), "--text-field", "Body", "--out", str(out))
    assert res.exit_code == 0, res.output
    [group] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["id"] for m in group["members"]] == ["ART-17", "ART-19"]
    assert f"{corpus}: ids from the column 'Article ID' (it has no column 'id'" in res.stderr


def test_an_id_like_field_is_read_only_when_it_holds_one_id_per_text(tmp_path: Path) -> None:
    rows = [{"article_id": 7, "text": COPIED[0]}, {"article_id": "A-8", "text": OTHER[0]}]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    corpus = load_corpus(jsonl)
    assert [d.id for d in corpus] == ["7", "A-8"] and "field 'article_id'" in corpus.id_note
    # an author's id repeats: the texts are numbered, and the note says why (a gallery, whose
    # labels repeat on purpose, reads it)
    repeated = _export(tmp_path / "r.csv", "Author ID,text", ["AU-1,one text", "AU-1,two text"])
    corpus = load_corpus(repeated)
    assert [d.id for d in corpus] == ["1", "2"]
    assert "numbered by row: the column 'Author ID' has values empty" in corpus.notes()[0]
    assert [d.id for d in load_corpus(repeated, unique_ids=False)] == ["AU-1", "AU-1"]
    two = _export(tmp_path / "t.csv", "Article ID,Author ID,text", ["1,2,one", "3,4,two"])
    corpus = load_corpus(two)
    assert [d.id for d in corpus] == ["1", "2"]
    assert "2 that may hold ids (Article ID, Author ID); name the one" in corpus.id_note
    plain = _export(tmp_path / "p.csv", "Title,text", ["a,one", "b,two"])  # as before
    assert [d.id for d in load_corpus(plain)] == ["1", "2"] and load_corpus(plain).id_note == ""


def test_a_folder_with_several_files_not_utf8_names_them_all_at_once(
    run: Any, tmp_path: Path
) -> None:
    """A folder of articles holding a Latin-1 file and a binary one named .txt stopped at the
    first ('latin1.txt line 1: byte 0xe9 ...'): the user re-saved it, ran again, and met the
    next. One sentence now names each, with where, and nothing is written."""
    folder = tmp_path / "articles"
    (folder / "2019").mkdir(parents=True)
    (folder / "pay.txt").write_text(" ".join(COPIED))
    (folder / "2019" / "cafe.txt").write_bytes("Le café a fermé.".encode("latin-1"))
    (folder / "scan.txt").write_bytes(b"%PDF\n" + bytes(range(256)))
    out = tmp_path / "groups.jsonl"
    res = run("dedup", str(folder), "--out", str(out))
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert (
        f"Error: {folder} holds 2 files that are not UTF-8 text: scan.txt (line 3: byte 0x80 "
        f"at offset 133), {Path('2019', 'cafe.txt')} (line 1: byte 0xe9 at offset 6); save them "
        "as UTF-8, or move them out"
    ) in res.output
    assert not out.exists()
    (folder / "scan.txt").unlink()  # one left: its own sentence, as before
    res = run("dedup", str(folder), "--out", str(out))
    assert "cafe.txt line 1: byte 0xe9 at offset 6 is not UTF-8 text" in res.output


def test_the_window_note_counts_sentences_where_sentences_were_embedded(
    run: Any, tmp_path: Path
) -> None:
    """dedup --by passages and plagiarism embed sentences, and the one sentence longer than the
    model's window was reported as '1 text(s) were longer than the model's window', of a corpus
    whose texts were all short enough."""
    run_on = "and then the talks went on " * 60 + "until late."  # one sentence, > 256 tokens
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": "a", "text": " ".join(COPIED)}, {"id": "b", "text": f"{OTHER[0]} {run_on}"}]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run("dedup", str(corpus), "--by", "passages", "--out", str(tmp_path / "g.jsonl"))
    assert res.exit_code == 0, res.output
    assert "1 sentence was longer than the model's window and was embedded" in res.stdout
    essay = tmp_path / "essay.txt"
    essay.write_text(f"{COPIED[0]} {run_on}\n")
    res = run("plagiarism", str(essay), "--corpus", str(corpus))
    assert res.exit_code == 0, res.output
    # essay's, b's
    assert "2 sentences were longer than the model's window and were embedded" in res.stdout


def test_the_report_says_which_sources_were_not_compared(run: Any, tmp_path: Path) -> None:
    """A teacher's sources/ held a .docx and an empty .txt: the terminal said they were
    skipped, but report.html, read later or by someone else, said '1 matched span(s) from 1 of
    2 source(s)' as if everything had been checked."""
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "pay.txt").write_text(" ".join(COPIED) + "\n")
    (sources / "fires.txt").write_text(" ".join(OTHER) + "\n")
    (sources / "old essay.docx").write_bytes(b"PK\x03\x04 a word file")
    (sources / "empty.txt").write_text("\n")
    for name, text in (("copied", ESSAY), ("own", "I sailed a dinghy on the lake all summer.")):
        essay = tmp_path / f"{name}.txt"
        essay.write_text(text)
        out = tmp_path / f"{name}.html"
        res = run("plagiarism", str(essay), "--corpus", str(sources), "--out", str(out))
        assert res.exit_code == 0, res.output
        page = out.read_text()
        assert "Not compared with the suspect:" in page, name
        assert "old essay.docx (not a text file" in page and "ids empty.txt" in page
    # a sources CSV whose ids come from 'Article ID': compared, so not listed as left out
    csv = _export(tmp_path / "sources.csv", "Article ID,text", [f"ART-1,{' '.join(COPIED)}"])
    res = run("plagiarism", str(essay), "--corpus", str(csv), "--out", str(out))
    assert res.exit_code == 0 and "ids from the column 'Article ID'" in res.stderr
    assert "Not compared" not in out.read_text() and "Article ID" not in out.read_text()


def test_a_folder_of_essays_as_suspect_says_to_check_them_one_at_a_time(
    run: Any, tmp_path: Path
) -> None:
    """`text plagiarism essays/ --corpus sources/` said only "File 'essays/' is a directory",
    leaving the teacher with a folder of essays to guess how to check them."""
    essays, sources = tmp_path / "essays", tmp_path / "sources"
    essays.mkdir()
    sources.mkdir()
    (essays / "ann.txt").write_text(ESSAY)
    (sources / "pay.txt").write_text(" ".join(COPIED) + "\n")
    res = run("plagiarism", str(essays), "--corpus", str(sources))
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"SUSPECT {essays} is a folder; the command checks one essay at a time" in res.output
    assert f'for f in {essays}/*; do siamkit text plagiarism "$f" --corpus {sources}' in res.output


def test_similarity_of_a_corpus_file_points_to_dedup(run: Any, tmp_path: Path) -> None:
    """`text similarity articles.jsonl x` (read as a file since 6dc19e2) scored the whole JSONL,
    braces and all, as one text."""
    corpus = tmp_path / "articles.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": COPIED[0]}) + "\n")
    res = run("similarity", str(corpus), COPIED[0])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"A names the corpus file {corpus}, which holds many texts" in res.output
    assert f"siamkit text dedup {corpus} --out groups.jsonl" in res.output


def test_a_word_or_pdf_file_is_refused_as_a_document_to_save_as_text(
    run: Any, tmp_path: Path
) -> None:
    """An essay handed in as essay.docx was refused as 'essay.docx line 1: byte 0xb4 at offset
    10 is not UTF-8 text; save the file as UTF-8': a teacher re-encodes a Word file in vain."""
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "pay.txt").write_text(" ".join(COPIED) + "\n")
    essay = tmp_path / "essay.docx"
    essay.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\xb4\x9e word/document.xml")
    res = run("plagiarism", str(essay), "--corpus", str(sources))
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert (
        f"{essay} is not a text file (a .docx file is not plain text); save or export it as "
        in res.output
    )
    assert "plain text (.txt) and give that" in res.output
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    res = run("similarity", str(pdf), COPIED[0])
    assert f"{pdf} is not a text file (a .pdf file is not plain text)" in res.output
    latin = tmp_path / "essay.txt"  # a text file: re-encoding it is the fix, as before
    latin.write_bytes("Le café a fermé ce soir.".encode("latin-1"))
    res = run("plagiarism", str(latin), "--corpus", str(sources))
    assert "byte 0xe9 at offset 6 is not UTF-8 text; save the file as UTF-8" in res.output


def test_a_cms_exports_html_bodies_are_read_as_the_text_they_show(run: Any, tmp_path: Path) -> None:
    """A CMS export keeps each article's body as HTML ('<p>..</p><p>..</p>'): read as it was,
    its sentences ran together into one 'sentence' per article, so an essay copying three of
    them was told '0 matched span(s)'. Such texts are now read as the text they show, saying
    so; a text naming one tag is left as it is."""
    body = "".join(f"<p>{s}</p>" for s in OTHER[:1] + COPIED + OTHER[1:])
    corpus = _export(
        tmp_path / "posts.csv",
        "Post ID,Content",
        [f'P-1,"{body}"', "P-2,my </div> closes early on the page."],
    )
    essay = tmp_path / "essay.txt"
    essay.write_text(ESSAY)
    res = run("plagiarism", str(essay), "--corpus", str(corpus), "--text-field", "content")
    assert res.exit_code == 0, res.output
    assert "1 matched span;" in res.stdout and "P-1: " in res.stdout
    assert f"{corpus}: 1 text holds HTML markup (ids P-1): read as the text" in res.stderr
    docs = load_corpus(corpus, "Content")
    assert docs[0].text.split() == " ".join(OTHER[:1] + COPIED + OTHER[1:]).split()
    assert docs[1].text == "my </div> closes early on the page."
