"""0/1 labels among graded scores: a pairs file that joins a 0/1 file ("1" = duplicate) to a
0-5 graded one, read under ``data.score_range: [0, 5]`` (or ``--score-range 0,5``), trained
the labels as the scores 0 and 1 of 5 without a word. A label word (yes, true) there is
refused; whole 0s and 1s beside fractions get a line naming the column, the range and what to
write (a line: a small graded file written by Excel looks the same, and still trains).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from siamkit.applications.text.pairs import read_examples


def _csv(path: Path, scores: list[str], column: str = "label") -> Path:
    rows = "".join(f"ticket {i} text,other {i} text,{s}\n" for i, s in enumerate(scores))
    path.write_text(f"a,b,{column}\n{rows}")
    return path


def _jsonl(path: Path, scores: list[Any]) -> Path:
    lines = [
        json.dumps({"a": f"ticket {i}", "b": f"other {i}", "label": s})
        for i, s in enumerate(scores)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _notes(path: Path, **kw: Any) -> list[str]:
    notes: list[str] = []
    read_examples(path, "pairs", notes=notes, **kw)
    return notes


def test_whole_zeros_and_ones_beside_fractions_get_a_line_naming_column_range_and_lines(
    tmp_path: Path,
) -> None:
    data = _csv(tmp_path / "tickets.csv", ["4.5", "1", "0", "3.8", "1"], column="score")
    assert _notes(data, columns={"label": "score"}, score_range=(0, 5)) == [
        f"{data}: score holds 3 whole 0s and 1s (line 3: 1) beside fractional scores (line 2: "
        "4.5) on data.score_range [0, 5]: if they are 0/1 labels, a 1 meant as a duplicate "
        "trains as a score of 1 on that scale; write each 0/1 label as a score on it (a "
        "duplicate as 5), or a score that is 1 as 1.0"
    ]
    # read without notes (as a command that has no line for it): the pairs, as before
    ex = read_examples(data, "pairs", {"label": "score"}, score_range=(0, 5))
    assert ex.targets == (0.9, 0.2, 0.0, 0.76, 0.2)


def test_the_line_s_verb_follows_what_the_pairs_are_read_for(tmp_path: Path) -> None:
    data = _csv(tmp_path / "tickets.csv", ["4.5", "1", "0"])
    [line] = _notes(data, score_range=(0, 5), columns_key="--columns", read_for="evaluation")
    assert "a 1 meant as a duplicate is evaluated as a score of 1 on that scale;" in line
    assert "trains" not in line
    with pytest.raises(ValueError, match="read_for is 'training' or 'evaluation', got 'tests'"):
        _notes(data, score_range=(0, 5), read_for="tests")


def test_a_command_s_pairs_name_its_score_range_option(tmp_path: Path) -> None:
    data = _csv(tmp_path / "tickets.csv", ["4.5", "1", "0"])
    assert (
        "on --score-range [0, 5]: if"
        in _notes(data, score_range=(0, 5), columns_key="--columns")[0]
    )
    over = _csv(tmp_path / "over.csv", ["4.5", "7"])
    with pytest.raises(ValueError, match="; correct the score, or set --score-range to the"):
        read_examples(over, "pairs", score_range=(0, 5), columns_key="--columns")
    word = _csv(tmp_path / "word.csv", ["4.5", "yes"])
    with pytest.raises(ValueError, match="; leave out --score-range if every pair is labelled"):
        read_examples(word, "pairs", score_range=(0, 5), columns_key="--columns")


@pytest.mark.parametrize(
    "scores",
    [
        ["0", "1", "2", "3", "4", "5", "2.5"],  # whole grades 0-5 (and a half): a graded file
        ["4.5", "1", "0", "5", "3.8"],  # a whole 5: whole numbers are not 0/1 alone
        ["0.0", "1.0", "4.5", "3.8", "0.2"],  # fractions throughout, a 1 written 1.0
        ["0", "1.0", "4.5"],  # a whole 0 (the bottom either way) with fractions
        ["1", "0", "1", "0"],  # 0/1 alone: a training run notes it (no fraction to mix with)
        ["4,5", "1,0", "0,0"],  # Excel's decimal commas
    ],
)
def test_a_graded_file_whose_values_include_0_and_1_still_reads(
    tmp_path: Path, scores: list[str]
) -> None:
    data = _csv(tmp_path / "graded.csv", [f'"{s}"' for s in scores])
    assert _notes(data, score_range=(0, 5)) == []
    ex = read_examples(data, "pairs", score_range=(0, 5))
    assert ex.targets == tuple(float(s.replace(",", ".")) / 5 for s in scores)


def test_under_the_range_0_1_whole_labels_and_fractions_agree(tmp_path: Path) -> None:
    # a 1 is the top of [0, 1]: a label and a score say the same there
    data = _csv(tmp_path / "unit.csv", ["1", "0", "0.7", "yes"])
    assert _notes(data, score_range=(0, 1)) == []
    assert read_examples(data, "pairs", score_range=(0, 1)).targets == (1.0, 0.0, 0.7, 1.0)


@pytest.mark.parametrize("word", ["yes", "FALSE", "true"])
def test_a_label_word_under_a_wider_range_is_refused(tmp_path: Path, word: str) -> None:
    # 'yes' was read as 1 and then as a score of 1 of 5; 'no' under [1, 5] as a score 0
    # outside the range, in words that never said the file held a label
    data = _csv(tmp_path / "words.csv", ["4.5", word])
    with pytest.raises(ValueError) as err:
        read_examples(data, "pairs", score_range=(0, 5))
    assert str(err.value) == (
        f"{data} line 3: label={word!r} is a 0/1 label, but data.score_range [0, 5] reads "
        "label as graded scores on that scale; set data.score_range: null if every pair is "
        "labelled 0/1, else write each label as a score on [0, 5] (a duplicate as 5)"
    )
    labels = read_examples(_csv(tmp_path / "labels.csv", ["0", word]), "pairs")  # no range
    assert labels.targets == (0.0, 0.0 if word == "FALSE" else 1.0)


def test_jsonl_numbers_are_whole_as_json_writes_them(tmp_path: Path) -> None:
    mixed = _jsonl(tmp_path / "mixed.jsonl", [4.5, 1, 0])
    assert "label holds 2 whole 0s and 1s" in _notes(mixed, score_range=(0, 5))[0]
    graded = _jsonl(tmp_path / "graded.jsonl", [4.5, 1.0, 0.0])
    assert _notes(graded, score_range=(0, 5)) == []
    assert read_examples(graded, "pairs", score_range=(0, 5)).targets == (0.9, 0.2, 0.0)
    flag = _jsonl(tmp_path / "flag.jsonl", [4.5, True])
    with pytest.raises(ValueError, match=r"label=True is a 0/1 label, but data\.score_range"):
        read_examples(flag, "pairs", score_range=(0, 5))


def test_a_training_run_says_the_line_for_its_training_and_validation_files(
    tiny_hf: Path, tmp_path: Path
) -> None:
    from siamkit.training.tasks import TaskOptions, get_task

    data = _csv(tmp_path / "tickets.csv", ["4.5", "1", "0", "3.8"] * 3)
    val = _csv(tmp_path / "val.csv", ["4.5", "1", "0.5"])
    cfg = {
        "model": {"path": str(tiny_hf), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "score_range": [0, 5], "val": str(val)},
        "train": {"epochs": 1, "batch_size": 4, "val_metric": "none"},
    }
    lines: list[str] = []
    get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=lines.append))
    said = [line for line in lines if "whole 0s and 1s" in line]
    assert [line.split(":")[0] for line in said] == [str(data), str(val)], lines
    assert said[0].startswith(f"{data}: label holds 6 whole 0s and 1s (line 3: 1)")


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl", "blank.jsonl"])
def test_an_empty_file_is_called_empty(tmp_path: Path, name: str) -> None:
    # it was 'has no column 'a', 'b', 'label' (its columns: none); set data.columns.a and
    # data.columns.b and data.columns.label to the columns that hold them'
    path = tmp_path / name
    path.write_text("\n\n" if name.startswith("blank") else "")
    how = "a JSON object a line" if name.endswith(".jsonl") else "a header, then a row"
    with pytest.raises(ValueError) as err:
        read_examples(path, "pairs", columns_key="data.columns")
    assert str(err.value) == f"{path} is empty; give it {how} per example (a, b, label)"


def test_a_nan_score_is_not_a_number(tmp_path: Path) -> None:
    # pandas writes a missing score as nan: it was 'outside the score range [0, 5]'
    data = _csv(tmp_path / "nan.csv", ["4.5", "nan"])
    with pytest.raises(ValueError) as err:
        read_examples(data, "pairs", score_range=(0, 5))
    assert str(err.value) == f"{data} line 3: label='nan' is not a number; give a score in [0, 5]"


@pytest.mark.parametrize(("name", "what"), [("runs", "a folder"), ("pairs.tsv", "a .tsv file")])
def test_a_validation_folder_is_not_called_training_data(
    tmp_path: Path, name: str, what: str
) -> None:
    # data.val naming a folder was refused as 'runs: training data is a .csv or .jsonl file'
    path = tmp_path / name
    path.mkdir() if name == "runs" else path.write_text("a\tb\tlabel\n")
    with pytest.raises(ValueError) as err:
        read_examples(path, "pairs")
    assert str(err.value) == (
        f"{path} is {what}; text pairs and triplets are read from a .csv or .jsonl file"
    )


@pytest.mark.parametrize("zero", ["0", "no", "FALSE", "0.0"])
def test_anchor_positive_pairs_labelled_0_are_refused(tmp_path: Path, zero: str) -> None:
    # a support team's pairs file (duplicates 1, others 0) given as anchor_positive trained
    # its non-duplicates as duplicates under loss mnrl, without a word
    data = tmp_path / "tickets.csv"
    data.write_text(f"anchor,positive,Label\nt1,d1,1\nt2,x2,{zero}\nt3,d3,1\nt4,x4,0\n")
    with pytest.raises(ValueError) as err:
        read_examples(data, "anchor_positive")
    assert str(err.value) == (
        f"{data} labels 2 of its 4 pairs 0 in its column 'Label' (line 3 first), and "
        "data.format anchor_positive trains every pair as a positive: keep only the pairs "
        "labelled 1, or train on the labels with data.format pairs and loss contrastive"
    )
    renamed = tmp_path / "renamed.jsonl"
    _jsonl(renamed, [1, 0])  # columns a, b, label: anchor and positive renamed, label read
    with pytest.raises(ValueError, match="labels 1 of its 2 pairs 0 in its column 'label'"):
        read_examples(renamed, "anchor_positive", {"anchor": "a", "positive": "b"})


def test_anchor_positive_pairs_all_labelled_1_or_unlabelled_read(tmp_path: Path) -> None:
    ones = tmp_path / "ones.csv"
    ones.write_text("anchor,positive,label\nt1,d1,1\nt2,d2,yes\n")
    plain = tmp_path / "plain.csv"
    plain.write_text("anchor,positive\nt1,d1\nt2,d2\n")
    for path in (ones, plain):
        assert read_examples(path, "anchor_positive").texts == (("t1", "t2"), ("d1", "d2"))


def test_a_validation_file_without_the_training_file_s_columns_is_told_to_match_it(
    tmp_path: Path,
) -> None:
    # it was told to set data.columns.a, b and label to its own columns, which data.train,
    # read with the same data.columns, does not have
    from siamkit.applications.text import train_split
    from siamkit.applications.text.train_config import parse_config

    data = tmp_path / "tickets.csv"
    data.write_text("ticket_a,ticket_b,dup\n" + "".join(f"t{i},u{i},{i % 2}\n" for i in range(12)))
    val = _csv(tmp_path / "val.csv", ["1", "0"])
    columns = {"a": "ticket_a", "b": "ticket_b", "label": "dup"}
    cfg = parse_config({"data": {"train": str(data), "val": str(val), "columns": columns}})
    examples = read_examples(data, "pairs", columns)
    with pytest.raises(ValueError) as err:
        train_split._split(examples, cfg)
    assert str(err.value) == (
        f"{val} has no columns 'ticket_a', 'ticket_b', 'dup' (its columns: a, b, label); "
        f"data.columns names the columns of this file and of data.train {data} alike: name "
        "them ticket_a, ticket_b, dup here too"
    )


def test_a_0_1_training_file_beside_a_graded_validation_file_gets_the_line(
    tiny_hf: Path, tmp_path: Path
) -> None:
    # the training file's labels were read as the scores 0 and 1 of 5 without a word when
    # data.val held graded scores (the note looked at both files together)
    from siamkit.training.tasks import TaskOptions, get_task

    data = _csv(tmp_path / "tickets.csv", ["1", "0"] * 6)
    val = _csv(tmp_path / "val.csv", ["4.5", "0.5", "3.0", "1.5"])
    cfg = {
        "model": {"path": str(tiny_hf), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "score_range": [0, 5], "val": str(val)},
        "train": {"epochs": 1, "batch_size": 6, "val_metric": "none"},
    }
    lines: list[str] = []
    get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=lines.append))
    assert (
        f"every pair of {data} is labelled 0 or 1 (column label), but data.score_range is "
        "[0, 5]: they train as graded scores on that scale (a score map, no calibrated "
        f"threshold); write them as scores on that scale (a duplicate as 5), as data.val {val} "
        "has its pairs"
    ) in lines, lines


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl"])
def test_an_empty_file_asks_for_the_columns_the_mapping_names(tmp_path: Path, name: str) -> None:
    # configs/text-pairs.yaml maps label to 'score' (data.columns), and calibrate's --columns
    # maps each: the empty file was asked for 'a, b, label', a header the mapping then refuses
    path = tmp_path / name
    path.write_text("")
    how = "a JSON object a line" if name.endswith(".jsonl") else "a header, then a row"
    mapped = {"a": "x", "b": "y", "label": "z"}
    with pytest.raises(ValueError) as err:
        read_examples(path, "pairs", columns=mapped, columns_key="--columns")
    assert str(err.value) == f"{path} is empty; give it {how} per example (x, y, z)"
    with pytest.raises(ValueError) as err:
        read_examples(path, "pairs", columns={"label": "score"}, columns_key="data.columns")
    assert str(err.value).endswith("per example (a, b, score)")
