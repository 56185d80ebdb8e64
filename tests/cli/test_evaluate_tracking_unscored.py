"""`siamkit evaluate-tracking`: a sequence with no frame to score says so, not 'nan'; --data shows
the folder layouts it reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli

WHY = (
    "no frame scored (a sequence's first frame is the box it starts from, so it needs a later "
    "frame with a ground-truth box)"
)


def _sequence(folder: Path, n_frames: int) -> None:
    folder.mkdir(parents=True)
    for i in range(1, n_frames + 1):
        frame = np.zeros((60, 80, 3), np.uint8)
        frame[10 + i : 30 + i, 10:30] = 220
        Image.fromarray(frame).save(folder / f"{i:08d}.jpg")
    (folder / "groundtruth.txt").write_text(
        "".join(f"10,{10 + i},20,20\n" for i in range(1, n_frames + 1))
    )


def test_a_one_frame_sequence_is_named_unscored_in_the_lines_and_the_report(tmp_path: Path) -> None:
    """A one-frame sequence printed 'success AUC nan, precision@20 nan' and the overall line
    'frames lost 0/0, 0.0 fps'; the report's table said nan."""
    _sequence(tmp_path / "d" / "one", 1)
    report = tmp_path / "r.html"
    args = ["evaluate-tracking", "--data", str(tmp_path / "d"), "--no-progress"]
    res = CliRunner().invoke(cli, [*args, "--report", str(report)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        f"one: {WHY}",
        f"overall: {WHY}; give sequences of two frames or more",
        f"report: {report}",
    ]
    html = report.read_text()
    assert "<td>one</td><td>none scored</td><td>none scored</td>" in html
    assert ">nan<" not in html


def test_beside_a_scored_sequence_the_overall_line_keeps_its_scores(tmp_path: Path) -> None:
    _sequence(tmp_path / "d" / "one", 1)
    _sequence(tmp_path / "d" / "two", 4)
    res = CliRunner().invoke(
        cli, ["evaluate-tracking", "--data", str(tmp_path / "d"), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == f"one: {WHY}"
    assert lines[1].startswith("two: success AUC ") and "nan" not in res.output
    assert lines[2].startswith("overall: success AUC ") and "frames lost 0/3" in lines[2]


def test_the_data_help_shows_the_two_folder_layouts() -> None:
    """--data said 'A folder of GOT-10k / OTB sequences', which names the layouts without
    showing them: a new user had to find them in the README."""
    res = CliRunner().invoke(cli, ["evaluate-tracking", "--help"], terminal_width=200)
    assert "GOT-10k (SEQ/*.jpg + SEQ/groundtruth.txt)" in res.output
    assert "OTB (SEQ/img/*.jpg + SEQ/groundtruth_rect.txt)" in res.output


def test_a_missing_data_folder_names_the_option() -> None:
    """--data naming no folder said 'no sequence folder at X', naming no option."""
    res = CliRunner().invoke(cli, ["evaluate-tracking", "--data", "no-such-folder"])
    assert res.exit_code == 2
    assert "Invalid value for '--data': Directory 'no-such-folder' does not exist." in res.output
