"""`siamkit evaluate-tracking --report`: each number of the report's tables is the one --json
prints for the same run, under the same name."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli


def _sequence(folder: Path, n_frames: int) -> None:
    """A GOT-10k sequence of a bright square moving down one pixel a frame."""
    folder.mkdir(parents=True)
    for i in range(1, n_frames + 1):
        frame = np.zeros((60, 80, 3), np.uint8)
        frame[10 + i : 30 + i, 10:30] = 220
        Image.fromarray(frame).save(folder / f"{i:08d}.jpg")
    (folder / "groundtruth.txt").write_text(
        "".join(f"10,{10 + i},20,20\n" for i in range(1, n_frames + 1))
    )


class _Tables(HTMLParser):
    """The page's tables as lists of rows of cell texts, and every tag met."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.tags: set[str] = set()
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def test_the_per_sequence_table_says_what_json_says(tmp_path: Path) -> None:
    """The per-sequence table's "frames" column held the frames scored (a 5-frame sequence: 4,
    its first frame being the box it starts from), while --json's "frames" of the same sequence
    is 5 and its scored frames "scored_frames": one name, two numbers. The column is now
    "frames scored"; each column named as a --json key holds that key's value."""
    _sequence(tmp_path / "d" / "<b>x<i>&amp;", 5)
    _sequence(tmp_path / "d" / "plain", 3)
    report = tmp_path / "r.html"
    args = ["evaluate-tracking", "--data", str(tmp_path / "d"), "--no-progress"]
    res = CliRunner().invoke(cli, [*args, "--report", str(report), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    page = _Tables()
    page.feed(report.read_text(encoding="utf-8"))
    assert page.tags.isdisjoint({"b", "i"})  # the sequence's name is text, not markup
    header, *rows = page.tables[1]  # per sequence
    shown = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}
    as_json = {  # column: (--json key, how the report writes its value)
        "success AUC": ("success_auc", lambda v: f"{v:.3f}"),
        "precision@20px": ("precision_20", lambda v: f"{v:.3f}"),
        "frames lost": ("frames_lost", str),
        "frames": ("frames", str),
        "frames scored": ("scored_frames", str),
    }
    compared = 0
    for seq in doc["sequences"]:
        for column, value in shown[seq["name"]].items():
            if column in as_json:
                key, fmt = as_json[column]
                assert value == fmt(seq[key]), (seq["name"], column, value, seq)
                compared += 1
    assert compared == 2 * 4  # each sequence's AUC, P@20, frames lost and frames scored
