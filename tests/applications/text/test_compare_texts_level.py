"""``compare_texts`` in Python holds two texts to the threshold ``siamkit text similarity`` holds
them to: two texts of several sentences each (two pasted tickets) to the document default, a
sentence to the sentence default. Python held every pair to the sentence default, so the same
two tickets could be 'same' in Python and 'different' at the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.applications.text.model import DOCUMENT_THRESHOLD, PASSAGE_THRESHOLD
from siamkit.cli.main import cli

TICKET_A = "The printer on floor two is out of toner. It jams on every page."
TICKET_B = "Printer toner is empty again. The paper jams daily on floor two."
SENTENCE = "The printer is out of toner."


@pytest.fixture(scope="module")
def tiny(tiny_hf: Path):  # type: ignore[no-untyped-def]
    from siamkit.applications.text import load_text_model

    return load_text_model(tiny_hf)


def _cli(tiny_hf: Path, a: str, b: str) -> dict[str, object]:
    res = CliRunner().invoke(
        cli, ["text", "similarity", a, b, "--model", str(tiny_hf), "--device", "cpu", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc: dict[str, object] = json.loads(res.stdout)
    return doc


@pytest.mark.parametrize(
    ("a", "b", "default", "level"),
    [
        (TICKET_A, TICKET_B, DOCUMENT_THRESHOLD, "document"),
        (SENTENCE, TICKET_B, PASSAGE_THRESHOLD, "sentence"),
    ],
)
def test_python_defaults_to_the_threshold_level_of_text_similarity(
    tiny, tiny_hf: Path, a: str, b: str, default: float, level: str
) -> None:
    from siamkit.applications.text.similarity import compare_texts

    assert tiny.threshold is None  # the default threshold applies, chosen by level
    r = compare_texts(tiny, a, b)
    said = _cli(tiny_hf, a, b)
    assert r.threshold == pytest.approx(default)
    assert r.threshold == pytest.approx(said["max_distance"])
    named = f"all-MiniLM-L6-v2's {level} default"  # (the command's also names --threshold)
    assert named in r.threshold_source and named in str(said["threshold_source"])
    assert r.same is said["same"]


def test_an_explicit_level_is_kept(tiny) -> None:
    from siamkit.applications.text.similarity import compare_texts

    assert compare_texts(tiny, TICKET_A, TICKET_B, level="passage").threshold == PASSAGE_THRESHOLD
    assert compare_texts(tiny, SENTENCE, TICKET_B, level="document").threshold == (
        DOCUMENT_THRESHOLD
    )
