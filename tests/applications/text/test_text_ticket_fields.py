"""A support team deduplicating a ticket export (issue 16's walk). The export keeps a ticket's
words in two columns, title and body, and many tickets have a title alone: ``--text-field
title,body`` reads both as one text (each non-empty one its own paragraph), and a file without the
text column says so. Reviewing groups.jsonl: each member carries its text's start, non-English
text as written, and a group holding most of the tickets (a threshold where related texts link)
is warned about."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from siamkit.applications.text.corpus import load_corpus
from siamkit.cli.main import cli

TICKETS = [
    ("T-1", "Printer out of toner", ""),
    ("T-2", "Printer out of toner", ""),
    ("T-3", "VPN fails", "Cannot connect from home since the update."),
]


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.csv"
    rows = "".join(f'{i},{t},"{b}",2026-01-0{n}\n' for n, (i, t, b) in enumerate(TICKETS, 1))
    path.write_text("ID,Title,Body,created\n" + rows, encoding="utf-8")
    return path


def test_title_and_body_read_as_one_text(tmp_path: Path) -> None:
    jsonl = tmp_path / "tickets.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"id": i, "title": t, "body": b}) + "\n" for i, t, b in TICKETS)
    )
    want = [
        ("T-1", "Printer out of toner"),
        ("T-2", "Printer out of toner"),
        ("T-3", "VPN fails\n\nCannot connect from home since the update."),
    ]
    for path in (_csv(tmp_path), jsonl):
        corpus = load_corpus(path, "title, body" if path.suffix == ".csv" else "title,body")
        assert [(d.id, d.text) for d in corpus.docs] == want, path
        assert corpus.blank == [] and corpus.id_note == ""


def test_dedup_groups_title_only_tickets(tmp_path: Path, tiny_hf: Path) -> None:
    out = tmp_path / "groups.jsonl"
    args = ["text", "dedup", str(_csv(tmp_path)), "--text-field", "title,body"]
    args += ["--model", str(tiny_hf), "--threshold", "0.999", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "blank" not in result.output
    groups = [json.loads(line) for line in out.read_text().splitlines()]
    assert [[m["id"] for m in g["members"]] for g in groups] == [["T-1", "T-2"]]


def test_a_missing_one_of_the_fields_is_named(tmp_path: Path) -> None:
    args = ["text", "dedup", str(_csv(tmp_path)), "--text-field", "title,text"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "g.jsonl")])
    assert result.exit_code != 0
    assert "has no column 'text' (its columns: ID, Title, Body, created)" in result.output
    assert "(several, comma-separated, are read as one text: --text-field title,body)" in " ".join(
        result.output.split()
    )
    assert not (tmp_path / "g.jsonl").exists()


def test_groups_show_each_members_text_to_review(tmp_path: Path, tiny_hf: Path) -> None:
    """groups.jsonl listed ids and scores alone: a support team reviewing a group had to look
    every id up in the export. Each member now carries its text's start, on one line."""
    path = tmp_path / "tickets.csv"
    long = "Printer jams on page two. " * 20
    path.write_text(f'id,text\nT-1,"{long}"\nT-2,"{long}"\nT-3,"VPN\nfails"\n', encoding="utf-8")
    out = tmp_path / "groups.jsonl"
    args = ["text", "dedup", str(path), "--model", str(tiny_hf), "--threshold", "0.999"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    (group,) = [json.loads(line) for line in out.read_text().splitlines()]
    start = " ".join(long.split())[:199] + "\u2026"
    assert [(m["id"], m["text"]) for m in group["members"]] == [("T-1", start), ("T-2", start)]


def test_a_group_of_most_texts_is_warned_about(tmp_path: Path, tiny_hf: Path) -> None:
    """A threshold calibrated on easy pairs (duplicates against random tickets) sat at 0.26 and
    dedup put all 800 tickets in one group, saying only '1 duplicate group(s) holding 800 texts'.
    It now warns that related texts link up at that threshold, and says what to change."""
    path = tmp_path / "tickets.jsonl"
    path.write_text("".join(json.dumps({"text": f"ticket number {n}"}) + "\n" for n in range(12)))
    said = {}
    for rule in ("components", "clique"):
        args = ["text", "dedup", str(path), "--model", str(tiny_hf), "--threshold", "-1"]
        args += ["--rule", rule, "--out", str(tmp_path / f"{rule}.jsonl")]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "1 duplicate group holding 12 texts" in result.output
        said[rule] = " ".join(result.output.split())
    warning = "warning: one group holds 12 of the 12 texts: at similarity >= -1.0000 texts that"
    assert warning in said["components"] and warning in said["clique"]
    assert "raise --threshold; or --rule clique or centroid" in said["components"]
    assert "--rule clique" not in said["clique"]
    few = tmp_path / "few.jsonl"
    few.write_text("".join(json.dumps({"text": f"ticket number {n}"}) + "\n" for n in range(3)))
    args = ["text", "dedup", str(few), "--model", str(tiny_hf), "--threshold", "-1"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "few-groups.jsonl")])
    assert result.exit_code == 0 and "warning" not in result.output, result.output


def test_groups_file_shows_non_english_text_as_it_reads(tmp_path: Path, tiny_hf: Path) -> None:
    """groups.jsonl escaped every non-ASCII character, so a reviewer read a Chinese or Russian
    ticket as \\u767b\\u5f55...; it is UTF-8 now, the text as written. An id that cannot be
    written in UTF-8 (a JSON lone surrogate) is refused in one sentence before anything runs."""
    path = tmp_path / "tickets.csv"
    path.write_text("id,text\nN-登录,打印机坏了\nN-2,打印机坏了\n", encoding="utf-8")
    out = tmp_path / "groups.jsonl"
    args = ["text", "dedup", str(path), "--model", str(tiny_hf), "--threshold", "0.999"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    line = out.read_text(encoding="utf-8")
    assert '"id": "N-登录"' in line and '"text": "打印机坏了"' in line
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "\\ud800", "text": "a"}\n{"id": "b", "text": "a"}\n')
    args = ["text", "dedup", str(bad), "--model", str(tiny_hf), "--out", str(tmp_path / "b.jsonl")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "line 1: the id 'id' is not valid Unicode (a lone surrogate" in result.output
    assert not (tmp_path / "b.jsonl").exists()


TICKET_A = "Mr Arafat has closed dozens of Hamas offices. Hamas vowed to continue its campaign."
TICKET_B = "The Authority will close down all Hamas institutions. An official statement said so."


def test_two_pasted_tickets_are_compared_as_documents(tmp_path: Path, tiny_hf: Path) -> None:
    """Two tickets of several sentences, pasted, were held to the sentence default (0.72), so two
    tickets on one story scored 0.76 'same' while text dedup, and the same texts given as files,
    held them to the document default (0.88) and apart. They are documents now, said on stderr;
    a one-sentence text keeps the sentence default."""
    (tmp_path / "b.txt").write_text(TICKET_B, encoding="utf-8")

    def run(a: str, b: str) -> tuple[float, str]:
        args = ["text", "similarity", a, b, "--model", str(tiny_hf), "--json"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        return doc["min_similarity"], " ".join(result.output.split())

    note = "A and B hold several sentences each: compared as documents, as text dedup compares them"
    for b in (TICKET_B, str(tmp_path / "b.txt")):
        threshold, said = run(TICKET_A, b)
        assert threshold == 0.88 and note in said, said
    for a, b in ((TICKET_A, "Hamas offices closed."), ("Offices closed.", "Hamas offices shut.")):
        threshold, said = run(a, b)
        assert threshold == 0.72 and "compared as documents" not in said, said
