"""A figure the README quotes says which command gives it, so a reader running the README's own
line is not surprised by another one."""

from __future__ import annotations

import re
from pathlib import Path

import click

from siamkit.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _paragraph(text: str, words: str) -> str:
    found = [p for p in text.split("\n\n") if words in p]
    assert len(found) == 1, words
    return " ".join(found[0].split())


def test_readme_tracking_figures_say_which_sequences_give_them() -> None:
    """The README quoted AUC 0.591 / P@20 0.680 (BENCHMARKS.md's 12 test sequences) beside a
    `siamkit evaluate-tracking --synthetic test` line that scores its default 8 sequences (about
    0.683 / 0.780): its paragraph names the option giving the benchmark's count, and the default."""
    readme = _paragraph((ROOT / "README.md").read_text(encoding="utf-8"), "success AUC 0.591")
    bench = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    idle = bench[bench.index("## Tracking on an idle machine") :]
    count = re.search(r"(\d+) sequences × 100 frames", idle)
    assert count is not None
    command = cli.get_command(click.Context(cli), "evaluate-tracking")
    assert command is not None
    default = next(p.default for p in command.params if p.name == "n_sequences")
    assert default != int(count.group(1))  # else the plain line gives the quoted figures
    assert f"siamkit evaluate-tracking --synthetic test --n-sequences {count.group(1)}" in readme
    assert f"its default {default} sequences" in readme
