"""siamkit text similarity / dedup / plagiarism end to end (the pretrained model, loaded once)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from siamkit.cli import text_cmds
from siamkit.cli.main import cli

SOURCE = (
    "The national executive appointed a little-known senator as interim leader last night. "
    "The move is likely to provoke further conflict between the senators and the organisation. "
    "Financial markets rallied strongly after the central bank cut interest rates on Tuesday. "
    "Bushfires burned through thousands of hectares of forest west of Sydney over the weekend."
)
ESSAY = (
    "My essay starts with an original thought about gardening and tomatoes in spring. "
    "The national executive last night appointed a little known senator as the interim leader. "
    "This move will likely provoke more conflict between senators and the organisation. "
    "Then I write about my holiday at the beach with my grandparents and their dog."
)


@pytest.fixture
def run(text_model, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(text_cmds, "_model", lambda path: text_model)
    return lambda *args: CliRunner().invoke(cli, ["text", *args])


def test_similarity_scores_and_decides(run, text_model) -> None:
    res = run("similarity", "A man is playing guitar.", "Someone plays a guitar.", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    z = text_model.embed(["A man is playing guitar.", "Someone plays a guitar."])
    assert out["similarity"] == pytest.approx(float(z[0] @ z[1]), abs=1e-5)
    assert out["same"] is True and "Lee background" in out["threshold_source"]
    res = run(
        "similarity", "A man is playing guitar.", "The stock market fell.", "--threshold", "0.1"
    )
    assert res.exit_code == 0 and "different" in res.output and "given" in res.output


def test_bad_threshold_and_empty_text_are_one_sentence(run) -> None:
    res = run("similarity", "a", "b", "--threshold", "1.5")
    assert res.exit_code != 0 and "lies in [-1, 1], got 1.5" in res.output
    res = run("similarity", " ", "b")
    assert res.exit_code != 0 and "text 0 is empty" in res.output


def test_dedup_writes_groups(run, tmp_path) -> None:
    sents = SOURCE.split(". ")
    rows = [{"id": f"s{i}", "text": s} for i, s in enumerate(sents)]
    rows += [{"id": "copy0", "text": sents[0].replace("last night", "yesterday evening")}]
    rows += [{"id": "copy2", "text": sents[2] + " "}]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run(
        "dedup", str(corpus), "--out", str(tmp_path / "g.jsonl"), "--threshold", "0.8", "--json"
    )
    assert res.exit_code == 0, res.output
    groups = [json.loads(x) for x in (tmp_path / "g.jsonl").read_text().splitlines()]
    assert sorted(sorted(m["id"] for m in g["members"]) for g in groups) == [
        ["copy0", "s0"],
        ["copy2", "s2"],
    ]
    assert json.loads(res.output)["search"] == "exact"


def test_plagiarism_finds_the_copied_span(run, tmp_path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "news.txt").write_text(SOURCE)
    (tmp_path / "src" / "other.txt").write_text(
        "Cats sleep most of the day. Dogs like walks in parks."
    )
    (tmp_path / "essay.txt").write_text(ESSAY)
    out = tmp_path / "report.html"
    res = run(
        "plagiarism",
        str(tmp_path / "essay.txt"),
        "--corpus",
        str(tmp_path / "src"),
        "--out",
        str(out),
        "--json",
    )
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert [s["source"] for s in rep["scores"]] == ["news.txt"]
    (span,) = rep["spans"]  # the two copied sentences merged into one span
    assert span["sentences"] == 2
    assert ESSAY[span["suspect_start"] : span["suspect_end"]].startswith("The national executive")
    assert SOURCE[span["source_start"] : span["source_end"]].endswith("organisation.")
    html = out.read_text()
    assert "<mark" in html and "news.txt" in html and "http" not in html and "<script" not in html


def test_not_utf8_suspect_names_file_and_byte(run, tmp_path) -> None:
    (tmp_path / "e.txt").write_bytes(b"abc\x80")
    res = run("plagiarism", str(tmp_path / "e.txt"), "--corpus", str(tmp_path / "e.txt"))
    assert res.exit_code != 0 and "e.txt is not UTF-8 text: byte 3" in res.output
