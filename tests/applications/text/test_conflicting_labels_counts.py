"""The note on pairs of texts labelled both 0 and 1 counts them with the thousands separator
every message writes ("1000 pairs of texts ... are labelled both": s60 final note, Counts).
The examples are built in memory: no file of 2,000 rows is read."""

from __future__ import annotations

from siamkit.applications.text.pairs import TextExamples
from siamkit.applications.text.train_checks import conflicting_labels
from siamkit.applications.text.train_config import parse_config


def test_a_thousand_conflicting_pairs_are_written_with_the_separator() -> None:
    cfg = parse_config(
        {
            "model": {"path": "unused"},
            "data": {"train": "pairs.jsonl"},
            "loss": {"name": "contrastive"},
        }
    )
    a = tuple(f"ticket {i}" for i in range(1000)) * 2
    b = tuple(f"reply {i}" for i in range(1000)) * 2
    ex = TextExamples("pairs", (a, b), (0.0,) * 1000 + (1.0,) * 1000)
    said = conflicting_labels(cfg, ex)
    assert said is not None
    assert said.startswith("1,000 pairs of texts in pairs.jsonl are labelled both 0 and 1 ")
