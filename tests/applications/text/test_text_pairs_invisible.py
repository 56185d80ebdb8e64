"""A training pair whose text is only zero-width or control characters (a spreadsheet cell holding
a stray U+200B) passed the pairs reader's ``str.strip`` and was refused mid-run as "text 21 is
empty", naming neither the file nor the line; a JSONL text with a lone surrogate escape failed in
the tokenizer. Both are refused when the file is read, by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamkit.applications.text.pairs import read_examples

ROWS = [("The printer is out of toner", "Printer needs toner", "4.5")] * 3


@pytest.mark.parametrize("blank", ["\u200b", "\x00", " \u2060\t", "\ufeff"])
def test_an_invisible_training_text_is_named_by_file_and_line(
    tmp_path: Path, blank: str, text_model
) -> None:
    # the reference: the tokenizer makes no token of it, so the model cannot embed it
    assert text_model.tokenizer(blank, add_special_tokens=False)["input_ids"] == []
    f = tmp_path / "pairs.csv"
    rows = [*ROWS[:2], ("Laptop will not charge", blank, "3"), *ROWS[2:]]
    f.write_text("a,b,score\n" + "".join(f'"{a}","{b}",{s}\n' for a, b, s in rows))
    with pytest.raises(ValueError) as err:
        read_examples(f, "pairs", {"label": "score"}, (0, 5), columns_key="data.columns")
    assert str(err.value) == (
        f"{f} line 4: 'b' is empty or not text; give every example its texts, or remove the line"
    )


def test_a_lone_surrogate_in_a_jsonl_pair_is_named_by_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "pairs.jsonl"
    f.write_text(
        '{"a": "printer out of toner", "b": "printer needs toner", "label": 1}\n'
        '{"a": "vpn \\ud800 fails", "b": "cannot connect", "label": 0}\n'
    )
    with pytest.raises(ValueError) as err:
        read_examples(f, "pairs")
    assert str(err.value) == (
        f"{f} line 2: 'a' is not valid Unicode (a lone surrogate '\\ud800' at character 4); "
        "correct the text"
    )
