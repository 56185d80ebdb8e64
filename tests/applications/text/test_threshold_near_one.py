"""A text --threshold within 2e-5 of 1: every verdict takes a score within float32 rounding
(siamkit.decision.ROUNDING, 1e-5) of its threshold, which there widens what the user chose by
half or more (0.99999 linked pairs from 0.99998, and dedup's summary printed "similarity >=
1.0000"), without a word. One warning line now says so, before the model loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from siamkit.cli import _text_common
from siamkit.cli.main import cli
from siamkit.decision import reaches


class _ModelLoaded(Exception):
    pass


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, threshold: str):  # type: ignore[no-untyped-def]
    def model(*_: object) -> None:
        raise _ModelLoaded  # the option was read: the command went on to load the model

    monkeypatch.setattr(_text_common, "_model", model)
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": "a", "text": "The printer is out of toner."}, {"id": "b", "text": "No toner."}]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = {
        "dedup": ["dedup", str(corpus), "--out", str(tmp_path / "g.jsonl")],
        "similarity": ["similarity", "one text", "another text"],
        "plagiarism": ["plagiarism", str(corpus), str(corpus)],
        "verify": ["verify", "one text", "--gallery", str(tmp_path / "g.db"), "--label", "a"],
    }[command]
    return CliRunner().invoke(cli, ["text", *args, "--threshold", threshold])


@pytest.mark.parametrize("command", ["dedup", "similarity", "plagiarism", "verify"])
@pytest.mark.parametrize("threshold", ["0.99999", "0.999985", "0.99998", "1.0", "1"])
def test_a_threshold_within_2e_5_of_1_is_warned_once_with_where_pairs_are_taken_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, threshold: str
) -> None:
    res = _run(tmp_path, monkeypatch, command, threshold)
    lines = [x for x in res.stderr.splitlines() if x.startswith("warning: --threshold")]
    assert len(lines) == 1, res.stderr
    found = re.search(r"takes pairs from ([0-9.]+) on, not only from (\S+)$", lines[0])
    assert found and found.group(2) == threshold
    assert "1e-05" in lines[0]
    # the figure is where the rule starts to link: a naive check of reaches on either side
    start, t = float(found.group(1)), float(threshold)
    assert reaches(np.float64(start + 1e-9), t) and not reaches(np.float64(start - 1e-7), t)
    assert start < t


@pytest.mark.parametrize("threshold", ["0.9999", "0.99997", "0.88", "auto"])
def test_thresholds_further_from_1_are_not_warned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: str
) -> None:
    res = _run(tmp_path, monkeypatch, "dedup", threshold)
    assert isinstance(res.exception, _ModelLoaded)
    assert "warning" not in res.stderr
