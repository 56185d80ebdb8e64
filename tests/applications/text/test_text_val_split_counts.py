"""The validation split's notes count texts and examples as every message does: with the
thousands separator, and one text as one ("shares 1 texts with training", "of the file's 2000
texts": s60 final note, Counts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from siamkit.applications.text import train_split
from siamkit.applications.text.pairs import read_examples
from siamkit.applications.text.train_config import parse_config


def _notes(path: Path, rows: list[dict[str, Any]]) -> list[str]:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = parse_config(
        {
            "model": {"path": "unused"},
            "data": {"train": str(path), "val_fraction": 0.2},
            "loss": {"name": "contrastive"},
            "train": {"seed": 0},
        }
    )
    return train_split._split(read_examples(path, "pairs"), cfg)[2]


def test_a_thousand_examples_are_counted_with_the_separator(tmp_path: Path) -> None:
    rows = [{"a": f"text {i}", "b": f"other {i}", "label": int(i % 4 == 0)} for i in range(1000)]
    data = tmp_path / "pairs.jsonl"
    assert _notes(data, rows)[0].startswith(
        f"validation: 200 of the 1,000 examples of {data} (data.val_fraction 0.2) with 400 of "
        "the file's 2,000 texts; "
    )


def test_one_shared_text_is_one_text(tmp_path: Path) -> None:
    # a star: every pair holds the hub, so all link up; validation shares the hub alone
    rows = [{"a": "hub", "b": f"leaf {i}", "label": i % 2} for i in range(20)]
    data = tmp_path / "star.jsonl"
    assert _notes(data, rows)[0] == (
        f"data.val_fraction 0.2: 20 of the 20 examples of {data} are linked by shared texts, "
        "more than 0.8 of them, so validation is a random 4, drawn regardless of them, and "
        "shares 1 text with training: its metrics and calibrated threshold are optimistic; "
        "give data.val, pairs of texts that training does not have"
    )
