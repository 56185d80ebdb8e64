"""Text inputs the audit broke the commands with: long CSV fields, JSONL lines that are not
objects, repeated and empty ids, folders with hidden files and earlier reports, an --out that is
an input, re-enrolled corpora; and what the commands report (coverage, thresholds, distances).
Each bad input is one sentence naming the file and line, and nothing is written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from siamkit.applications.text.corpus import load_corpus, read_corpus
from siamkit.applications.text.pairs import read_examples, read_labelled_pairs
from siamkit.cli import _text_common
from siamkit.cli.main import cli

SOURCE = (
    "The national executive appointed a little-known senator as interim leader last night. "
    "The move is likely to provoke further conflict between the senators and the organisation. "
    "Financial markets rallied strongly after the central bank cut interest rates on Tuesday."
)
OTHER = "Cats sleep most of the day in the sun. Dogs like long walks in the park every morning."
LONG = "The quick brown fox jumps over the lazy dog. " * 3000  # 135,000 characters


@pytest.fixture
def run(text_model, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_text_common, "_model", lambda path, device=None: text_model)
    return lambda *args: CliRunner().invoke(cli, ["text", *args])


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _one_error(res: Any, code: int = 1) -> str:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output and res.output.count("Error:") == 1
    return str(res.output)


# ---------------------------------------------------------------- CSV and JSONL readers
def test_csv_fields_longer_than_the_csv_modules_default_limit_are_read(tmp_path) -> None:
    import csv

    assert len(LONG) > 131_072  # csv's default field_size_limit
    corpus = tmp_path / "long.csv"
    corpus.write_text(f'id,text\na,"{LONG}"\nb,short\n')
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f'a,b,label\n"{LONG}",x y,1\nx y,q r,0\n')
    default = csv.field_size_limit()
    try:
        for read in (
            lambda: [len(d.text) for d in read_corpus(corpus)],  # dedup, plagiarism, enroll
            lambda: [len(read_examples(pairs).texts[0][0])],  # train
            lambda: [len(read_labelled_pairs(pairs, "calibration").texts[0][0])],  # calibrate
        ):
            csv.field_size_limit(131_072)  # each reader as a fresh process meets it
            assert read()[0] == len(LONG)
    finally:
        csv.field_size_limit(default)


def test_malformed_csv_is_one_sentence_naming_file_and_line(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text('id,text\na,fine\nb,"never closed\nc,lost\n')
    with pytest.raises(ValueError, match=r"bad\.csv line 3 is not valid CSV \(unexpected end of "
                       r"data; a quoted field is not closed\)"):  # fmt: skip
        read_corpus(bad)
    bad.write_text('a,b,label\nx y,"q" r,1\n')
    with pytest.raises(ValueError, match=r"bad\.csv line 2 is not valid CSV \(',' expected"):
        read_examples(bad)
    bad.write_text("id,text\na,one, two\n")
    with pytest.raises(ValueError, match=r"bad\.csv line 2 has 3 fields but the header has 2"):
        read_corpus(bad)


def test_a_jsonl_line_that_is_not_an_object_is_named(tmp_path) -> None:
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"a": "x y", "b": "y z", "label": 1}\n[1, 2, 3]\n')
    with pytest.raises(ValueError, match=r"train\.jsonl line 2 is not a JSON object"):
        read_examples(bad)  # was AttributeError: 'list' object has no attribute 'get'
    with pytest.raises(ValueError, match=r"train\.jsonl line 2 is not a JSON object"):
        read_corpus(bad, text_field="a")


def test_a_json_array_corpus_is_refused_with_a_hint(tmp_path) -> None:
    (tmp_path / "c.json").write_text('[{"id": "a", "text": "one"}]')
    with pytest.raises(ValueError, match=r"c\.json: a corpus is a \.jsonl file .* as \.jsonl$"):
        read_corpus(tmp_path / "c.json")


# ---------------------------------------------------------------- ids
def test_repeated_ids_are_refused_naming_both_lines(tmp_path) -> None:
    c = _jsonl(tmp_path / "c.jsonl", [{"id": "x", "text": "one"}, {"id": "y", "text": "two"},
                                       {"id": "x", "text": "three"}])  # fmt: skip
    with pytest.raises(ValueError, match=r"c\.jsonl line 3 repeats the id 'x' of line 1"):
        read_corpus(c)
    assert [d.id for d in read_corpus(c, unique_ids=False)] == ["x", "y", "x"]  # enroll's labels
    csv_ = tmp_path / "c.csv"
    csv_.write_text("id,text\n7,one\n8,two\n7,three\n")
    with pytest.raises(ValueError, match=r"c\.csv line 4 repeats the id '7' of line 2"):
        read_corpus(csv_)


def test_an_empty_id_is_refused_and_never_replaced_by_a_number(tmp_path) -> None:
    c = tmp_path / "c.csv"
    c.write_text("id,text\n2,a real id two\n,no id\n")  # a row number 2 would collide with "2"
    with pytest.raises(ValueError, match=r"c\.csv line 3 has an empty id \(column 'id'\)"):
        read_corpus(c)
    j = _jsonl(tmp_path / "c.jsonl", [{"id": "2", "text": "a"}, {"text": "b"}])
    with pytest.raises(ValueError, match=r"c\.jsonl line 2 has no 'id', though other lines"):
        read_corpus(j)
    _jsonl(j, [{"id": "", "text": "a"}])
    with pytest.raises(ValueError, match=r"c\.jsonl line 1 has an empty id \('id'\)"):
        read_corpus(j)
    # no id field at all: line (JSONL) or row (CSV) numbers, which then cannot collide
    _jsonl(j, [{"text": "a"}, {"text": "b"}])
    assert [d.id for d in read_corpus(j)] == ["1", "2"]
    c.write_text("text\na\nb\n")
    assert [d.id for d in read_corpus(c)] == ["1", "2"]


def test_an_id_field_that_does_not_exist_is_refused(tmp_path) -> None:
    j = _jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "one"}])
    with pytest.raises(ValueError, match=r"c\.jsonl has no field 'nope' on any line; name the id"):
        read_corpus(j, id_field="nope")
    c = tmp_path / "c.csv"
    c.write_text("id,text\na,one\n")
    with pytest.raises(ValueError, match=r"c\.csv has no column 'nope' \(its columns: id, text\)"):
        read_corpus(c, id_field="nope")


# ---------------------------------------------------------------- folders
def test_a_folder_skips_hidden_files_corpus_files_and_reports_and_says_so(tmp_path) -> None:
    from siamkit.applications.text.corpus_folder import REPORT_PREFIX

    f = tmp_path / "sources"
    (f / ".git").mkdir(parents=True)
    (f / ".git" / "index").write_bytes(b"DIRC\x00\x00\xff\xfe")  # suffix-less, not UTF-8
    (f / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\xff")
    (f / "wiki.txt").write_text(SOURCE)
    (f / "notes.jsonl").write_text('{"text": "x"}\n')
    (f / "report.html").write_text(REPORT_PREFIX + "essay.txt</title>...")
    (f / "essay.txt").write_text("the suspect")
    c = load_corpus(f, exclude={f / "essay.txt": "the suspect itself"})
    assert [d.id for d in c.docs] == ["wiki.txt"] and c.files == [f / "wiki.txt"]
    assert dict(c.skipped) == {
        ".git/": "hidden folder",
        ".DS_Store": "hidden",
        "essay.txt": "the suspect itself",
        "notes.jsonl": "a .jsonl file inside a folder is not read: give it as the corpus itself",
        "report.html": "a siamkit plagiarism report",
    }
    (note,) = c.notes()
    assert note.startswith(f"skipped 5 files of {f}: .git/ (hidden folder), .DS_Store")


def test_a_folder_of_corpus_files_only_says_which_it_skipped(run, tmp_path) -> None:
    f = tmp_path / "jfolder"
    f.mkdir()
    (f / "a.jsonl").write_text('{"text": "x"}\n')
    (f / "b.csv").write_text("text\nx\n")
    res = run("dedup", str(f), "--out", str(tmp_path / "o.jsonl"))
    out = _one_error(res)
    assert f"{f} holds no text files to read (a folder's texts are the files in it " in out
    assert f"; skipped 2 files of {f}: a.jsonl (a .jsonl file" in out
    assert "b.csv (a .csv file inside a folder is not read" in out


def test_blank_texts_are_named_on_stderr(run, tmp_path) -> None:
    c = _jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "one text"}, {"id": "b", "text": " "},
                                      {"id": "c", "text": "\u200b"}])  # fmt: skip
    res = run("dedup", str(c), "--out", str(tmp_path / "o.jsonl"), "--json")
    assert res.exit_code == 0, res.output
    assert res.stderr == f"skipped 2 blank texts of {c}: ids b (line 2), c (line 3)\n"
    assert json.loads(res.stdout)["texts"] == 1


# ---------------------------------------------------------------- outputs
def test_out_that_is_an_input_file_is_refused_and_left_alone(run, tmp_path) -> None:
    c = _jsonl(tmp_path / "same.jsonl", [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}])
    before = c.read_bytes()
    out = _one_error(run("dedup", str(c), "--out", str(c)), code=2)
    assert f"Error: --out {c} is the input file {c}; write the output to another file" in out
    src = tmp_path / "sources"
    src.mkdir()
    (src / "wiki.txt").write_text(SOURCE)
    essay = tmp_path / "essay.txt"
    essay.write_text(SOURCE)
    for target in (essay, src / "wiki.txt"):
        res = run("plagiarism", str(essay), "--corpus", str(src), "--out", str(target))
        assert f"--out {target} is the input file" in _one_error(res, code=2)
    assert c.read_bytes() == before and essay.read_text() == SOURCE
    assert (src / "wiki.txt").read_text() == SOURCE


def test_an_unwritable_out_names_the_users_path(run, tmp_path) -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc")
    c = _jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "one"}])
    out = _one_error(run("dedup", str(c), "--out", "/proc/nope.jsonl"))
    assert "cannot write --out /proc/nope.jsonl: " in out and ".tmp-" not in out


# ---------------------------------------------------------------- plagiarism
def test_coverage_counts_sentence_characters_in_numerator_and_denominator() -> None:
    from siamkit.applications.text.passages import split_sentences
    from siamkit.applications.text.plagiarism import MatchedSpan, _scores

    text = "Aaaa bbbb cccc dddd.   Eeee ffff gggg hhhh. Iiii jjjj kkkk llll mmmm nnnn."
    sus = split_sentences(text)
    assert [(p.start, p.end) for p in sus] == [(0, 20), (23, 43), (44, 74)]  # 20 + 20 + 30
    spans = [MatchedSpan("a", 0, 43, 0, 9, 0.9, 2), MatchedSpan("b", 44, 74, 0, 9, 0.8, 1)]
    got = {s.source: s.coverage for s in _scores(spans, sus)}
    # by hand: a's span holds sentences of 20 + 20 characters (not the 3 spaces between them),
    # b's one of 30; of 70 sentence characters (the span's 43 over 70 made 1.014 in all)
    assert got == {"a": 40 / 70, "b": 30 / 70} and sum(got.values()) == 1.0


def test_the_suspect_inside_its_corpus_folder_is_skipped_and_coverage_stays_at_most_1(
    run, tmp_path
) -> None:
    f = tmp_path / "selfc"
    f.mkdir()
    essay = f / "essay.txt"
    essay.write_text(SOURCE.replace(". ", ".   \n"))  # whitespace between sentences
    (f / "wiki.txt").write_text(SOURCE)
    (f / "other.txt").write_text(OTHER)
    out = f / "report.html"
    for _ in range(2):  # the second run finds the first run's report in the folder
        res = run("plagiarism", str(essay), "--corpus", str(f), "--out", str(out), "--json")
        assert res.exit_code == 0, res.output
        rep = json.loads(res.stdout)
        assert [(s["source"], s["coverage"]) for s in rep["scores"]] == [("wiki.txt", 1.0)]
    assert "essay.txt (the suspect itself)" in res.stderr
    assert "report.html (a siamkit plagiarism report)" in res.stderr
    res = run("plagiarism", str(essay), "--corpus", str(essay))
    assert "--corpus" in _one_error(res, code=2) and "is SUSPECT itself" in res.output


def test_sources_sharing_an_id_are_refused(run, tmp_path) -> None:
    from siamkit.applications.text.documents import Document
    from siamkit.applications.text.plagiarism import find_plagiarism

    one = r"^source 1 repeats the id 's' of source 0; every source needs an id of its own$"
    with pytest.raises(ValueError, match=one):
        find_plagiarism(None, Document("e", SOURCE), [Document("s", OTHER), Document("s", SOURCE)],
                        0.7)  # type: ignore[arg-type]  # fmt: skip
    c = _jsonl(tmp_path / "src.jsonl", [{"id": "s", "text": OTHER}, {"id": "s", "text": SOURCE}])
    (tmp_path / "essay.txt").write_text(SOURCE)
    res = run("plagiarism", str(tmp_path / "essay.txt"), "--corpus", str(c))
    assert f"{c} line 2 repeats the id 's' of line 1" in _one_error(res)


def test_find_plagiarism_takes_the_corpus_load_corpus_returns(text_model, tmp_path) -> None:
    from siamkit.applications.text.documents import Document
    from siamkit.applications.text.plagiarism import find_plagiarism

    (tmp_path / "wiki.txt").write_text(SOURCE)
    (tmp_path / "other.txt").write_text(OTHER)
    corpus = load_corpus(tmp_path)
    suspect = Document("essay", SOURCE)
    report = find_plagiarism(text_model, suspect, corpus, 0.7)  # was: 'Corpus' is not iterable
    assert [(s.source, s.coverage) for s in report.scores] == [("wiki.txt", 1.0)]
    assert report == find_plagiarism(text_model, suspect, corpus.docs, 0.7)
    assert len(corpus) == 2 and list(corpus) == corpus.docs and corpus[0] == corpus.docs[0]
    assert corpus[:1] == corpus.docs[:1]


# ---------------------------------------------------------------- enroll
def test_enroll_refuses_a_bad_id_before_making_a_gallery(run, tmp_path) -> None:
    for rows, want in (
        ([{"id": "ok", "text": "a"}, {"id": "a" * 300, "text": "b"}],
         "line 2: the id 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' cannot be a gallery label"),
        ([{"id": "ok", "text": "a"}, {"id": "", "text": "b"}], "line 2 has an empty id"),
    ):  # fmt: skip
        c = _jsonl(tmp_path / "c.jsonl", rows)
        db = tmp_path / "new" / "g.db"
        assert f"{c} {want}" in _one_error(run("enroll", str(c), "--gallery", str(db)))
        assert not db.parent.exists()  # no gallery file, no folder made for one


def test_enroll_again_skips_what_the_gallery_already_holds(run, text_model, tmp_path) -> None:
    from siamkit.index import Gallery

    long_text = " ".join(
        f"Paragraph {i} of the ticket describes the printer fault." for i in range(40)
    )
    rows = [
        {"id": "T-1", "text": "The printer on floor two is out of toner."},
        {"id": "T-2", "text": "I cannot connect to the VPN from home."},
        {"id": "T-1", "text": "Printer toner is empty again."},
        {"id": "T-1", "text": "The printer on floor two is out of toner."},  # given twice
        {"id": "T-3", "text": long_text},  # over the 1,000-character preview
    ]
    c = _jsonl(tmp_path / "tickets.jsonl", rows)
    db = tmp_path / "nodir" / "tickets.db"  # a missing folder is created, as dedup's --out is
    res = run("enroll", str(c), "--gallery", str(db), "--json")
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)
    assert (first["enrolled"], first["skipped_already_enrolled"], first["num_items"]) == (4, 1, 4)
    res = run("enroll", str(c), "--gallery", str(db))
    assert res.exit_code == 0, res.output
    assert "enrolled 0 texts under 0 labels" in res.output and "(now 4 items)" in res.output
    assert "skipped 5 texts already enrolled under the same label" in res.output
    rows.append({"id": "T-2", "text": "The VPN drops every ten minutes."})
    res = run("enroll", str(_jsonl(c, rows)), "--gallery", str(db), "--json")
    assert json.loads(res.stdout)["enrolled"] == 1
    with Gallery.open(db, text_model, create=False) as g:
        assert {i.label: i.count for i in g.labels()} == {"T-1": 2, "T-2": 2, "T-3": 1}


def test_enroll_again_embeds_only_what_it_may_enroll(run, text_model, tmp_path, monkeypatch):
    """Enrolling a corpus again embedded every text to store none of them: a text of at most
    1,000 characters that its label holds (or that the corpus gave earlier) is now not embedded,
    with a line saying how many; a longer one still is (its preview holds only its start). The
    gallery and the summary are those of embedding them all."""
    from siamkit.applications.text import embedding
    from siamkit.index import Gallery

    embedded: list[str] = []
    embed = embedding.embed_texts

    def counted(model, texts, *args, **kwargs):  # type: ignore[no-untyped-def]
        embedded.extend(texts)
        return embed(model, texts, *args, **kwargs)

    monkeypatch.setattr(embedding, "embed_texts", counted)
    long_text = " ".join(f"Part {i} of the ticket describes the printer fault." for i in range(40))
    rows = [
        {"id": "T-1", "text": "The printer on floor two is out of toner."},
        {"id": "T-2", "text": "I cannot connect to the VPN from home."},
        {"id": "T-1", "text": "The printer on floor two is out of toner."},  # given twice
        {"id": "T-2", "text": "The printer on floor two is out of toner."},  # another label's
        {"id": "T-3", "text": long_text},
    ]
    c, db = _jsonl(tmp_path / "t.jsonl", rows), tmp_path / "t.db"
    res = run("enroll", str(c), "--gallery", str(db), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["enrolled"] == 4 and len(embedded) == 4
    assert res.stderr.endswith(
        "1 of 5 texts repeats a text its label already holds (enrolled before, or given "
        "earlier): embedding the other 4\n"
    )
    embedded.clear()
    res = run("enroll", str(c), "--gallery", str(db))
    assert res.exit_code == 0, res.output
    assert embedded == [long_text]
    assert "4 of 5 texts repeat a text their label already holds" in res.stderr
    assert "enrolled 0 texts under 0 labels" in res.stdout and "(now 4 items)" in res.stdout
    assert "skipped 5 texts already enrolled under the same label" in res.stdout
    embedded.clear()
    res = run("enroll", str(_jsonl(c, rows[:4])), "--gallery", str(db), "--json")
    assert res.exit_code == 0 and embedded == [] and "nothing to embed" in res.stderr
    assert json.loads(res.stdout)["skipped_already_enrolled"] == 4
    rows.append({"id": "T-1", "text": "Printer toner is empty again."})
    embedded.clear()
    res = run("enroll", str(_jsonl(c, rows)), "--gallery", str(db), "--json")
    assert embedded == [long_text, rows[-1]["text"]] and json.loads(res.stdout)["enrolled"] == 1
    with Gallery.open(db, text_model, create=False) as g:
        assert {i.label: i.count for i in g.labels()} == {"T-1": 2, "T-2": 2, "T-3": 1}


# ---------------------------------------------------------------- what is reported
def test_similarity_json_names_the_threshold_as_a_similarity_and_as_a_distance(run) -> None:
    res = run("similarity", "ok", "ok", "--json")  # 'ok' against itself: cosine 1 + 1.2e-7
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert "threshold" not in doc
    assert doc["min_similarity"] == pytest.approx(0.72) and doc["max_distance"] == 0.28
    assert "all-MiniLM-L6-v2's sentence default" in doc["threshold_source"]
    assert doc["distance"] == 0.0 and doc["similarity"] == 1.0  # clamped, never -1.2e-07


def test_the_other_model_note_reads_an_onnx_served_models_transformer() -> None:
    from types import SimpleNamespace

    from siamkit.applications.text.similarity import other_model_note

    minilm = {"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6}
    assert other_model_note(SimpleNamespace(transformer_config=minilm)) == ""
    mpnet = {"model_type": "mpnet", "hidden_size": 768, "num_hidden_layers": 12}
    note = other_model_note(SimpleNamespace(transformer_config=mpnet))
    assert "not all-MiniLM-L6-v2" in note and "--threshold" not in note  # serve has none
    assert "pass --threshold, or calibrate" in other_model_note(
        SimpleNamespace(transformer_config=mpnet), "--threshold"
    )


def test_help_and_refusals_describe_what_a_text_export_does() -> None:
    import click

    from siamkit.cli.export_cmd import _run_folder

    res = CliRunner().invoke(cli, ["export", "--help"])
    assert "MODEL/onnx/" in res.output and "static is refused" in res.output
    with pytest.raises(click.UsageError, match="activations quantised per token") as err:
        _run_folder("unused", None, "static", {}, False)
    assert "weights only" not in str(err.value)
    res = CliRunner().invoke(cli, ["text", "enroll", "--help"])
    assert "the same groups" not in res.output and "the same embeddings" in res.output


def test_onnx_export_folder_has_the_usual_mode(tiny_hf, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.onnx_export import export_text_bundle

    export_text_bundle(load_text_model(str(tiny_hf)), tmp_path / "onnx")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "onnx").stat().st_mode & 0o777 == 0o777 & ~umask  # was 0700 (mkdtemp)


def test_a_missing_relative_file_says_where_it_was_looked_for(tmp_path, monkeypatch) -> None:
    """configs/text-pairs.yaml names its data relative to the repository root; run elsewhere,
    the bare 'configs/data/x.csv is not a file' did not say which folder that was read from."""
    from siamkit.applications.text.documents import read_text_file

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=rf"relative to the current folder, {tmp_path}\)$"):
        read_text_file("configs/data/x.csv")
    with pytest.raises(ValueError, match=r"x\.csv is not a file$"):  # absolute: nothing to add
        read_text_file(tmp_path / "x.csv")


@pytest.mark.parametrize("command", ["dedup", "plagiarism"])
def test_out_below_a_file_is_refused_before_the_model_is_used(
    tmp_path, monkeypatch, command
) -> None:
    """--out notes.txt/report.html failed only after the texts were embedded and matched."""

    def loaded(path: Any, device: Any = None) -> Any:
        raise AssertionError("the model was loaded before --out was checked")

    monkeypatch.setattr(_text_common, "_model", loaded)
    (tmp_path / "notes.txt").write_text("keep me")
    src = tmp_path / "sources"
    src.mkdir()
    (src / "wiki.txt").write_text(SOURCE)
    essay = tmp_path / "essay.txt"
    essay.write_text(OTHER)
    out = tmp_path / "notes.txt" / ("groups.jsonl" if command == "dedup" else "report.html")
    args = [str(src)] if command == "dedup" else [str(essay), "--corpus", str(src)]
    res = CliRunner().invoke(cli, ["text", command, *args, "--out", str(out)])
    assert f"Error: --out {out} cannot be written" in _one_error(res)
    res = CliRunner().invoke(cli, ["text", "plagiarism", str(essay), "--corpus", str(src),
                                   "--out", str(tmp_path / "notes.txt")])  # fmt: skip
    assert "is an existing file that is not an HTML page" in _one_error(res)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_plagiarism_help_says_what_is_printed_and_what_is_written() -> None:
    # the help did not say that the printed summary holds no span texts, nor that without
    # --out nothing is written
    res = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["text", "plagiarism", "--help"])
    text = " ".join(res.output.split())
    assert "Prints the number of matched spans, the threshold and, per source" in text
    assert "Only --out writes a file" in text
    assert "Without it nothing is written: only the summary (or --json) is printed" in text


def test_dedup_by_passages_shows_the_coverage_loop_like_the_search(
    tiny_hf, tmp_path, monkeypatch
) -> None:
    # only the search had a bar: scoring candidate pairs sentence by sentence showed nothing
    from siamkit.progress import Progress, set_enabled

    bars: list[Progress] = []
    real = Progress.__init__

    def noted(self: Progress, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        bars.append(self)

    monkeypatch.setattr(Progress, "__init__", noted)
    texts = [f"{SOURCE} {OTHER}", SOURCE, f"{OTHER} {SOURCE}", OTHER]
    corpus = _jsonl(tmp_path / "c.jsonl", [{"text": t} for t in texts])
    out = tmp_path / "g.jsonl"
    args = ["text", "dedup", str(corpus), "--out", str(out), "--by", "passages"]
    args += ["--threshold", "-1", "--model", str(tiny_hf), "--device", "cpu"]
    try:
        res = CliRunner().invoke(cli, args)
    finally:
        set_enabled(False)  # the command turned progress on for this process
    assert res.exit_code == 0, res.output
    (search,) = [b for b in bars if b.desc == "searching"]
    (cov,) = [b for b in bars if b.desc == "passage coverage"]
    assert cov.total == cov.done == 6  # every pair a candidate at -1, none of one sentence each
    assert search.done == search.total  # like the search: through siamkit.progress, closed
