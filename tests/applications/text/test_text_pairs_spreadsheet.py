"""A support team's pairs as spreadsheets export them (issue 16's fine-tuning walk, synthetic
tickets): a checkbox column (TRUE/FALSE from Excel and Google Sheets), a "duplicate?" column of
yes/no, JSON booleans; and a label cell that is empty, 2 or a word said what was wrong but not
what to write instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from siamkit.applications.text.pairs import read_examples, read_labelled_pairs

TICKETS = [
    ("My laptop will not charge", "Laptop battery stays at 0% when plugged in"),
    ("Cannot log in to the VPN", "Printer in room 4 is out of toner"),
    ("Outlook keeps asking for my password", "Repeated password prompt in Outlook"),
    ("Wi-Fi drops every few minutes", "Need access to the finance share"),
]


def _csv(path: Path, labels: list[str], header: str = "a,b,label") -> Path:
    # as a spreadsheet exports it: UTF-8 with a BOM, CRLF line ends
    lines = [header] + [f"{a},{b},{lab}" for (a, b), lab in zip(TICKETS, labels)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    return path


@pytest.mark.parametrize(
    "labels",
    [["TRUE", "FALSE", "TRUE", "FALSE"], ["yes", "no", "Yes", "NO"], ["true", "false", "1", "0"]],
)
def test_spreadsheet_label_words_read_as_one_and_zero(tmp_path: Path, labels: list[str]) -> None:
    ex = read_examples(_csv(tmp_path / "pairs.csv", labels))
    assert ex.targets == (1.0, 0.0, 1.0, 0.0)
    # calibration reads the same file (it has no option to map the labels)
    assert read_labelled_pairs(tmp_path / "pairs.csv", "calibration").targets == ex.targets


def test_jsonl_booleans_and_words_read_alike(tmp_path: Path) -> None:
    f = tmp_path / "pairs.jsonl"
    rows = [True, "false", "yes", False]
    f.write_text(
        "".join(json.dumps({"a": a, "b": b, "label": y}) + "\n" for (a, b), y in zip(TICKETS, rows))
    )
    assert read_examples(f).targets == (1.0, 0.0, 1.0, 0.0)


@pytest.mark.parametrize(
    ("labels", "said"),
    [
        (
            ["1", "0", "", "0"],
            "line 4: label is empty; give every pair a label 0 or 1",
        ),
        (
            ["1", "0", "2", "0"],
            "line 4: label=2 is not 0 or 1; label each pair 0 or 1, or give data.score_range "
            "for graded scores",
        ),
        (
            ["1", "0", "maybe", "0"],
            "line 4: label='maybe' is not 0 or 1 (nor true/false or yes/no); label each pair 0 "
            "or 1, or give data.score_range for graded scores",
        ),
    ],
)
def test_a_bad_label_says_what_to_write(tmp_path: Path, labels: list[str], said: str) -> None:
    f = _csv(tmp_path / "pairs.csv", labels)
    with pytest.raises(ValueError) as err:
        read_examples(f)
    assert str(err.value) == f"{f} {said}"


def test_a_bad_score_says_the_range(tmp_path: Path) -> None:
    f = _csv(tmp_path / "sts.csv", ["4.5", "", "0.5", "1"], header="a,b,score")
    with pytest.raises(ValueError) as err:
        read_examples(f, columns={"label": "score"}, score_range=(0, 5))
    assert str(err.value) == f"{f} line 3: score is empty; give every pair a score in [0, 5]"
    f = _csv(tmp_path / "sts.csv", ["4.5", "high", "0.5", "1"], header="a,b,score")
    with pytest.raises(ValueError) as err:
        read_examples(f, columns={"label": "score"}, score_range=(0, 5))
    assert str(err.value) == f"{f} line 3: score='high' is not a number; give a score in [0, 5]"


def test_a_header_in_another_case_is_read(tmp_path: Path) -> None:
    # Excel's "A,B,Label" (and a trailing space) for the columns a, b, label: training took
    # three --set data.columns... to read it, and calibration (which maps no columns) refused it
    f = _csv(tmp_path / "excel.csv", ["1", "0", "1", "0"], header="A,B ,Label")
    ex = read_examples(f, columns_key="data.columns")
    assert ex.texts[0][0] == TICKETS[0][0] and ex.texts[1][1] == TICKETS[1][1]
    assert ex.targets == (1.0, 0.0, 1.0, 0.0)
    assert read_labelled_pairs(f, "calibration").targets == ex.targets
    g = _csv(tmp_path / "sts.csv", ["4", "0", "5", "1"], header="a,b,Score")
    assert read_examples(g, columns={"label": "score"}, score_range=(0, 5)).targets == (
        0.8,
        0.0,
        1.0,
        0.2,
    )


def test_two_columns_alike_but_for_case_are_not_guessed(tmp_path: Path) -> None:
    f = tmp_path / "two.csv"
    f.write_text("a,b,Label,LABEL\nx y,z w,1,0\n")
    with pytest.raises(
        ValueError, match=r"has no column 'label' \(its columns: a, b, Label, LABEL\)"
    ):
        read_examples(f)


def test_a_score_out_of_range_says_what_to_change(tmp_path: Path) -> None:
    # the second team's 0-5 file with a 7: the range was printed as the run's floats, no fix
    f = _csv(tmp_path / "sts.csv", ["4.5", "7", "0.5", "1"], header="a,b,score")
    with pytest.raises(ValueError) as err:
        read_examples(f, columns={"label": "score"}, score_range=(0.0, 5.0))
    assert str(err.value) == (
        f"{f} line 3: score=7.0 is outside the score range [0, 5]; correct the score, or set "
        "data.score_range to the scale your scores use"
    )


def _semicolon(path: Path, header: str, rows: list[str]) -> Path:
    # Excel's CSV where the comma is the decimal mark (German, French, ...): semicolons between
    # the fields, a BOM, CRLF, and a text with a comma quoted only if it held a semicolon
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("utf-8-sig"))
    return path


def test_an_excel_csv_separated_by_semicolons_is_read(tmp_path: Path) -> None:
    # was "line 3 has 2 fields but the header has 1 columns; quote a field that holds a comma":
    # the header read as one column 'A;B;Label', the rows split at their commas
    f = _semicolon(
        tmp_path / "tickets.csv",
        "A;B;Label",
        [
            "My laptop will not charge;Laptop battery stays at 0%, even when plugged in;1",
            "Cannot log in to the VPN;Printer in room 4 is out of toner;0",
        ],
    )
    ex = read_examples(f)
    assert ex.texts[1] == (
        "Laptop battery stays at 0%, even when plugged in",
        "Printer in room 4 is out of toner",
    )
    assert ex.targets == (1.0, 0.0)
    assert read_labelled_pairs(f, "calibration").targets == (1.0, 0.0)
    # its scores carry decimal commas
    g = _semicolon(tmp_path / "sts.csv", "a;b;score", ["x y;z w;4,5", "x y;q r;0,5"])
    assert read_examples(g, columns={"label": "score"}, score_range=(0, 5)).targets == (0.9, 0.1)


def test_a_semicolon_corpus_dedups_by_its_columns(tmp_path: Path) -> None:
    from siamkit.applications.text.corpus import load_corpus

    f = _semicolon(tmp_path / "tickets.csv", "id;text", ["T-1;Laptop, not charging", "T-2;VPN"])
    assert [(d.id, d.text) for d in load_corpus(f)] == [
        ("T-1", "Laptop, not charging"),
        ("T-2", "VPN"),
    ]


def test_a_comma_csv_with_semicolons_in_its_texts_stays_comma_separated(tmp_path: Path) -> None:
    f = tmp_path / "pairs.csv"
    f.write_text("a,b,label\nx; y,z w,1\nx y,q; r,0\n")
    assert read_examples(f).texts == (("x; y", "x y"), ("z w", "q; r"))


def test_the_empty_rows_excel_writes_below_a_table_are_skipped(tmp_path: Path) -> None:
    # rows of commas alone, which Excel exports for empty rows once edited: "line 4: 'A' is
    # empty or not text" of a row the user sees blank in the spreadsheet
    f = _csv(tmp_path / "pairs.csv", ["1", "0"], header="A,B,Label")
    f.write_bytes(f.read_bytes() + b",,\r\n , ,\r\n")
    assert read_examples(f).targets == (1.0, 0.0)
    from siamkit.applications.text.corpus import load_corpus

    g = tmp_path / "tickets.csv"
    g.write_bytes(b"id,text\r\nT-1,Laptop not charging\r\n,\r\nT-2,VPN fails\r\n,\r\n")
    assert [d.id for d in load_corpus(g)] == ["T-1", "T-2"]


def test_a_row_with_one_field_empty_is_still_refused(tmp_path: Path) -> None:
    f = _csv(tmp_path / "pairs.csv", ["1", "0"], header="a,b,label")
    f.write_bytes(f.read_bytes() + b",,1\r\n")
    with pytest.raises(ValueError, match=r"line 4: 'a' is empty or not text"):
        read_examples(f)


def test_a_spreadsheets_id_and_text_columns_are_found_whatever_their_case(tmp_path: Path) -> None:
    # "ID,Body": the default id column 'id' was not found, so the tickets were numbered by row
    # and groups.jsonl listed 1, 2, 3 instead of T-17, T-18, without a word
    from siamkit.applications.text.corpus import load_corpus

    f = tmp_path / "tickets.csv"
    f.write_bytes("ID,Body\r\nT-17,Laptop not charging\r\nT-18,VPN fails\r\n".encode("utf-8-sig"))
    assert [(d.id, d.text) for d in load_corpus(f, "body")] == [
        ("T-17", "Laptop not charging"),
        ("T-18", "VPN fails"),
    ]
    assert [d.id for d in load_corpus(f, "Body", "id")] == ["T-17", "T-18"]


def test_a_column_named_twice_is_refused_naming_it(tmp_path: Path) -> None:
    # a 0/1 label column pasted beside another: the last one was read without a word
    f = _csv(tmp_path / "twice.csv", ["1,0", "0,1", "1,1", "0,0"], header="a,b,label,label")
    with pytest.raises(ValueError) as err:
        read_examples(f)
    assert str(err.value) == (
        f"{f} names the column 'label' twice in its header (columns 3 and 4); rename or remove "
        "one of them, since only one can be read"
    )
    from siamkit.applications.text.corpus import load_corpus

    corpus = tmp_path / "corpus.csv"
    corpus.write_text("id,text,text\n1,printer jams,vpn down\n")
    with pytest.raises(ValueError, match=r"names the column 'text' twice .*\(columns 2 and 3\)"):
        load_corpus(corpus)
    # a spreadsheet's trailing empty columns are no names: read as before
    blank = _csv(tmp_path / "blank.csv", ["1,,", "0,,", "1,,", "0,,"], header="a,b,label,,")
    assert read_examples(blank).targets == (1.0, 0.0, 1.0, 0.0)


def test_a_jsonl_key_named_twice_is_refused_naming_it(tmp_path: Path) -> None:
    # json.loads keeps the last of a repeated key without a word, as a CSV header did
    f = tmp_path / "twice.jsonl"
    f.write_text(
        json.dumps({"a": "x", "b": "y", "label": 1}) + "\n"
        + '{"a": "printer jams", "b": "vpn down", "label": 1, "label": 0}\n'
    )  # fmt: skip
    with pytest.raises(ValueError) as err:
        read_examples(f)
    assert str(err.value) == (
        f"{f} line 2 names the key 'label' twice; keep one of them, since only one can be read"
    )
