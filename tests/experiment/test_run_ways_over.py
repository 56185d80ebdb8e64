"""A run's eval.ways above its test classes runs as all of them: the run said nothing (a
'4-way' row for eval.ways 10); it now says so before training, and metrics.json records the N
asked (n_way_asked) in the few-shot entries that ran so, and the report's row says so."""

from __future__ import annotations

import json
from pathlib import Path

from siamkit.experiment import run_experiment
from siamkit.training.config_io import load_config
from siamkit.training.config_overrides import apply_overrides

ROOT = Path(__file__).resolve().parents[2]


def test_run_says_and_records_the_ways_that_ran_as_all_test_classes(tmp_path: Path) -> None:
    cfg = load_config(ROOT / "configs" / "digits-tiny.yaml")
    cfg = apply_overrides(cfg, ["eval.ways=[2, 10]", "eval.shots=1", "train.epochs=1"])
    said: list[str] = []
    run_experiment(cfg, tmp_path / "run", episodes=5, progress=False, log=said.append)
    assert "eval.ways 10: only 4 test classes are evaluated, so it runs as 4-way" in said
    few = json.loads((tmp_path / "run" / "metrics.json").read_text())["few_shot"]
    assert few["4way1shot"]["n_way_asked"] == [10]
    assert "n_way_asked" not in few["2way1shot"]
    page = (tmp_path / "run" / "report.html").read_text()  # the report's row says so too
    assert "; 10-way asked, but only 4 classes are evaluated)" in page
    assert page.count("way asked, but only") == 1


def test_the_line_groups_the_class_count_as_the_reports_note() -> None:
    # s62_LR 3: the report said "1,001-way asked, but only 1,000 classes are evaluated" and the
    # terminal "only 1000 classes are evaluated, so it ran as 1000-way"
    from siamkit.experiment.result import ways_over_line

    assert ways_over_line("--ways", [1001], 1000) == (
        "--ways 1001: only 1,000 classes are evaluated, so it ran as 1,000-way"
    )
    assert ways_over_line("eval.ways", [1500, 2000], 1200, True, "test classes") == (
        "eval.ways 1500,2000: only 1,200 test classes are evaluated, so they run as 1,200-way"
    )
