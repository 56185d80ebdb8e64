"""evaluate --ways above the evaluated classes runs as all of them: the table said so, but
--json (stdout and stderr) did not; it now says so on stderr and records the N asked in the
few-shot entry that ran as all the classes (n_way_asked)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from siamkit.cli.main import cli


def test_json_says_the_ways_asked_ran_as_all_classes(tiny_demo_dir: Path) -> None:
    model = str(tiny_demo_dir / "model")
    args = ["evaluate", model, "--data", "digits", "--classes", "6,7,8", "--ways", "2,5"]
    res = CliRunner().invoke(cli, [*args, "--shots", "1", "--episodes", "5", "--json"])
    assert res.exit_code == 0, res.output
    few = json.loads(res.stdout)["few_shot"]
    assert few["3way1shot"]["n_way_asked"] == [5]
    assert "n_way_asked" not in few["2way1shot"]
    assert "--ways 5: only 3 classes are evaluated, so it ran as 3-way" in res.stderr


def test_report_says_the_ways_asked_ran_as_all_classes(tiny_demo_dir: Path, tmp_path: Path) -> None:
    """The HTML report showed a plain '3-way 1-shot' row for --ways 5 on 3 classes."""
    model, report = str(tiny_demo_dir / "model"), tmp_path / "r.html"
    args = ["evaluate", model, "--data", "digits", "--classes", "6,7,8", "--ways", "2,5"]
    res = CliRunner().invoke(cli, [*args, "--shots", "1", "--episodes", "5", "--report", report])
    assert res.exit_code == 0, res.output
    page = report.read_text()
    assert "; 5-way asked, but only 3 classes are evaluated)" in page
    assert page.count("way asked, but only") == 1  # the 2-way row ran as asked
    assert "&quot;n_way_asked&quot;: [\n" in page  # the page's metrics JSON records it too
