"""The text commands say a count in the number it takes: ``siamkit text dedup`` of a one-text
corpus said "1 texts: 0 duplicate group(s) holding 0 texts", ``text enroll`` of one text
"enrolled 1 text(s) under 1 label(s) into g.db (now 1 items)", ``text lexical`` of one text
"fitting TF-IDF + LSI (1 components) on 1 texts ..." before its refusal, and a text
longer than the model's window "1 text(s) were longer ... and were embedded" (s58 c7, s59 c5
item 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli

pytest.importorskip("transformers")

PRINTER = "The printer on floor two is out of toner."


def _jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text(
        "".join(json.dumps({"id": f"T-{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )
    return path


def test_counted_and_the_window_note_take_the_number_of_the_count() -> None:
    from siamkit.clauses import counted
    from siamkit.cli._text_common import chunk_note

    assert [counted(n, "text") for n in (0, 1, 2)] == ["0 texts", "1 text", "2 texts"]
    assert chunk_note(1) == (
        "1 text was longer than the model's window and was embedded as overlapping windows, "
        "averaged.\n"
    )
    assert chunk_note(2, "sentence").startswith(
        "2 sentences were longer than the model's window and were embedded as overlapping"
    )
    assert chunk_note(0) == ""


def test_dedup_of_one_text_and_of_one_group(text_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "groups.jsonl"
    res = text_cli("dedup", str(_jsonl(tmp_path / "one.jsonl", [PRINTER])), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert res.output.startswith("1 text: 0 duplicate groups holding 0 texts ("), res.output
    two = _jsonl(tmp_path / "two.jsonl", [PRINTER, PRINTER])
    res = text_cli("dedup", str(two), "--out", str(out), "--threshold", "0.9")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("2 texts: 1 duplicate group holding 2 texts ("), res.output


def test_enroll_of_one_text(text_cli: Any, tmp_path: Path) -> None:
    corpus, db = _jsonl(tmp_path / "one.jsonl", [PRINTER]), tmp_path / "g.db"
    res = text_cli("enroll", str(corpus), "--gallery", str(db))
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"enrolled 1 text under 1 label into {db} (now 1 item)\n")
    res = text_cli("enroll", str(corpus), "--gallery", str(db))
    assert res.exit_code == 0, res.output
    assert res.stderr.endswith(
        "\n1 of 1 text repeats a text its label already holds (enrolled before, or given earlier): "
        "nothing to embed\n"
    ), res.stderr
    assert "skipped 1 text already enrolled under the same label with the same text" in res.stdout


def test_lexical_on_one_text(text_cli: Any, tmp_path: Path) -> None:
    corpus = _jsonl(tmp_path / "one.jsonl", [PRINTER])
    res = text_cli(
        "lexical", "--corpus", str(corpus), "--out", str(tmp_path / "m"), "--components", "1"
    )
    assert res.stderr.startswith("fitting TF-IDF + LSI (1 component) on 1 text ...\n"), res.stderr
    assert res.exit_code == 1 and not (tmp_path / "m").exists()


def test_lexical_on_one_distinct_term(text_cli: Any, tmp_path: Path) -> None:
    """Two texts whose only word left after stop words is "printer" said "1 lexical components
    asked for, but 2 texts with 1 distinct terms allow at most 0; lower --components ...", which
    no --components (at least 1) can follow (s59 FB finding 2)."""
    corpus = _jsonl(tmp_path / "one_term.jsonl", ["The printer.", "printer"])
    res = text_cli(
        "lexical", "--corpus", str(corpus), "--out", str(tmp_path / "m"), "--components", "1"
    )
    assert res.exit_code == 1 and not (tmp_path / "m").exists()
    assert res.stderr.endswith(
        "Error: the lexical corpus has only 1 distinct term (printer, after English stop words), "
        "and LSI needs at least 2; give a corpus with more words\n"
    ), res.stderr


@pytest.mark.parametrize(
    ("label", "args", "line"),
    [
        ("0", [], "2 pairs (1 genuine, 1 impostor) of 1 text from the pairs file "),
        ("0.2", ["--score-range", "0,1"], "2 graded pairs (scores 0 to 1) of 1 text from the "),
    ],
    ids=["labelled", "graded"],
)
def test_evaluate_of_pairs_that_join_one_text_to_itself(
    tiny_hf: Path, tmp_path: Path, label: str, args: list[str], line: str
) -> None:
    """``siamkit evaluate`` counts the pairs' distinct texts, which pairs of a text with itself
    make 1: it said "of 1 texts" (s59 r5 finding 2)."""
    data = tmp_path / "p.csv"
    data.write_text(f"a,b,label\n{PRINTER},{PRINTER},1\n{PRINTER},{PRINTER},{label}\n")
    res = CliRunner().invoke(
        cli, ["evaluate", str(tiny_hf), "--data", str(data), *args, "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert f"\n{line}" in f"\n{res.stdout}", res.stdout


def test_similarity_of_a_one_character_file(text_cli: Any, tmp_path: Path) -> None:
    """``siamkit text similarity`` names a file argument's size: a one-character file was
    "(1 characters)" (s59 r5 finding 3)."""
    one = tmp_path / "one.txt"
    one.write_text("x")
    res = text_cli("similarity", str(one), "x", "--threshold", "0.5")
    assert res.exit_code == 0, res.output
    assert res.stderr.startswith(f"A: the text of the file {one} (1 character)\n"), res.stderr
