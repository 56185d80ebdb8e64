"""What a new user met walking the text commands from the README: corpus errors that did not say
what to fix (a JSONL without the text field, an empty CSV told to name its text column), an
empty essay refused only after the model loaded, a --device help pointing `text similarity` to a
--runtime it lacks, and an int8 export line saying it was "within 1e-04" of torch at 2.5e-02."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from siamkit.applications.text.corpus import load_corpus
from siamkit.cli import _text_common
from siamkit.cli.main import cli


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---------------------------------------------------------------- corpora
def test_a_jsonl_without_the_text_field_lists_its_fields_and_names_the_option(tmp_path) -> None:
    f = _jsonl(tmp_path / "c.jsonl", [{"id": 1, "body": "a text"}, {"id": 2, "body": "another"}])
    with pytest.raises(ValueError) as err:
        load_corpus(f)
    assert str(err.value) == (
        f"{f} has no field 'text' on any line (line 1's fields: id, body); name the text field "
        "with --text-field (several, comma-separated, are read as one text: --text-field "
        "title,body)"
    )


@pytest.mark.parametrize(
    ("second", "said"),
    [
        ({"id": 2, "body": "x"}, "line 2 has no field 'text', though other lines have one; give"),
        ({"id": 2, "text": 5}, "line 2: the field 'text' is 5, not a string; give the text as a"),
        ({"id": 2, "text": None}, "line 2: the field 'text' is null, not a string; give"),
    ],
)
def test_one_jsonl_line_without_a_string_text_says_which_and_what_to_do(
    tmp_path, second: dict[str, Any], said: str
) -> None:
    f = _jsonl(tmp_path / "c.jsonl", [{"id": 1, "text": "a text"}, second])
    with pytest.raises(ValueError, match="^" + str(f) + " ") as err:
        load_corpus(f)
    assert said in str(err.value)


def test_an_empty_csv_is_called_empty_not_told_to_name_its_text_column(tmp_path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("")
    with pytest.raises(ValueError) as err:
        load_corpus(f)
    assert str(err.value).startswith(f"{f} is empty; a CSV corpus starts with a header row")
    assert "its columns: none" not in str(err.value)


@pytest.mark.parametrize("name", ["c.jsonl", "c.csv"])
def test_a_corpus_with_no_text_says_what_to_give(tmp_path, name: str) -> None:
    f = tmp_path / name
    f.write_text("id,text\n" if name.endswith(".csv") else "\n")
    with pytest.raises(ValueError) as err:
        load_corpus(f)
    assert str(err.value) == (
        f"{f} holds no non-empty text; give a corpus with at least one text that has visible "
        "characters"
    )


# ---------------------------------------------------------------- plagiarism, similarity
@pytest.mark.parametrize("content", ["", "  \n\n"])
def test_an_empty_essay_is_refused_before_the_model_loads(tmp_path, monkeypatch, content) -> None:
    def no_model(*_: Any, **__: Any) -> Any:
        raise AssertionError("the model was loaded for an empty essay")

    monkeypatch.setattr(_text_common, "_model", no_model)
    essay = tmp_path / "essay.txt"
    essay.write_text(content)
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "a.txt").write_text("A source sentence. Another one.")
    out = tmp_path / "report.html"
    args = ["text", "plagiarism", str(essay), "--corpus", str(sources), "--out", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert f"SUSPECT {essay} is empty (no visible character); give the file holding" in res.output
    assert not out.exists()


def test_a_suspect_without_a_sentence_says_what_to_give() -> None:
    from siamkit.applications.text.documents import Document
    from siamkit.applications.text.plagiarism import find_plagiarism

    with pytest.raises(ValueError) as err:  # the library's check: no model is needed before it
        find_plagiarism(None, Document("essay", "  "), [Document("s", "A source.")], 0.7)  # type: ignore[arg-type]
    assert (
        str(err.value) == "essay has no sentence to check; give a text with at least one sentence"
    )


def test_no_sources_or_only_empty_ones_are_named_as_such() -> None:
    """No source, or sources of no visible text, were refused as 'the sources hold no sentence
    to compare with': neither said that none was given nor which ones were empty."""
    from siamkit.applications.text.documents import Document
    from siamkit.applications.text.plagiarism import find_plagiarism

    essay = Document("essay", "The cat sat on the mat all day long.")
    with pytest.raises(ValueError) as err:  # checked before any model is needed
        find_plagiarism(None, essay, [], 0.7)  # type: ignore[arg-type]
    assert str(err.value) == "no source document was given to compare essay with; give at least one"
    blank = [Document("a.txt", ""), Document("b.txt", " \n\t ")]
    with pytest.raises(ValueError) as err:
        find_plagiarism(None, essay, blank, 0.7)  # type: ignore[arg-type]
    assert str(err.value) == (
        "every source document is empty (a.txt, b.txt: no visible text), so essay has no "
        "sentence to be compared with; give sources that hold text"
    )
    many = [Document(f"s{i}", "") for i in range(5)]
    with pytest.raises(ValueError, match=r"\(s0, s1, s2 and 2 more: no visible text\)"):
        find_plagiarism(None, essay, many, 0.7)  # type: ignore[arg-type]


def test_the_similarity_help_points_to_no_runtime_it_lacks() -> None:
    sim = CliRunner().invoke(cli, ["text", "similarity", "--help"])
    assert sim.exit_code == 0 and "--runtime" not in sim.output, sim.output
    dedup = CliRunner().invoke(cli, ["text", "dedup", "--help"])
    assert "--runtime onnx, onnx-int8" in " ".join(dedup.output.split())


# ---------------------------------------------------------------- export
def test_a_text_export_line_claims_no_image_tolerance(capsys) -> None:
    from siamkit.cli.export_cmd import _print

    rows = [
        {"precision": "fp32", "path": "m/onnx/text.onnx", "bytes": 1024, "max_abs_diff": 2.2e-7,
         "min_cosine": 1.0, "tokenizer": "m/onnx/tokenizer"},
        {"precision": "int8", "int8_mode": "dynamic", "path": "m/onnx/text.int8.onnx",
         "bytes": 1024, "max_abs_diff": 2.5e-2, "min_cosine": 0.9922, "tokenizer": "m/onnx/tokenizer"},
    ]  # fmt: skip
    _print(rows, None, "onnx", False)
    fp32, int8, _ = capsys.readouterr().out.splitlines()
    assert "within 1e-04" not in fp32 + int8, (fp32, int8)
    assert "max |torch - onnx| = 2.5e-02, min cosine to torch 0.992200 (int8 rounds" in int8
    assert fp32.count("the export embeds as the torch model") == 1, fp32
