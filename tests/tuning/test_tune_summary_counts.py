"""siamkit tune's summary and its interrupted line count their trials as every message counts
(siamkit.clauses.counted): "1 trial", "1,500 trials", "(1,200 complete, 300 pruned)"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import siamkit.tuning as tuning
from siamkit.cli.main import cli
from siamkit.tuning.results import StudyResult
from siamkit.tuning.search import StudyInterrupted

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def _tune(tmp_path: Path, out: Path) -> list[str]:
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"optim.lr": {"float": [1e-3, 1e-2], "log": True}}))
    return ["tune", str(TINY), "--trials", "2000", "--out", str(out), "--no-progress",
            "--space", str(space), "--set", "data.val_classes=[4, 5]"]  # fmt: skip


@pytest.mark.parametrize(
    ("counts", "said"),
    [
        ((1, 0, 1001, 1000), "1 trial finished (1 complete, 0 pruned), 1,001 failed, "
         "1,000 interrupted in 5 s"),
        ((1200, 300, 0, 0), "1,500 trials finished (1,200 complete, 300 pruned), 0 failed in 5 s"),
    ],
)  # fmt: skip
def test_the_summary_counts_its_trials(tmp_path, monkeypatch, counts, said) -> None:
    complete, pruned, failed, interrupted = counts
    # the study's result stands in (no 1,500 trials run); no best config: the summary is read
    result = StudyResult(None, {}, None, complete, pruned, failed, 5.0, interrupted=interrupted)
    monkeypatch.setattr(tuning, "run_study", lambda *a, **k: result)
    res = CliRunner().invoke(cli, _tune(tmp_path, tmp_path / "study"))
    assert said in res.output.splitlines()
    if failed:
        assert "no trial completed before the timeout and 1,001 failed (each" in res.output


def test_the_interrupted_line_counts_the_completed_trials(tmp_path, monkeypatch) -> None:
    out = tmp_path / "study"
    best = out / "best.yaml"

    def interrupted(base, space, out_dir, **_):
        out_dir.mkdir(exist_ok=True)
        (out_dir / "study.db").write_bytes(b"")
        best.write_text(TINY.read_text())
        raise StudyInterrupted(best, 1500)

    monkeypatch.setattr(tuning, "run_study", interrupted)
    res = CliRunner().invoke(cli, _tune(tmp_path, out))
    assert res.exit_code == 130, res.output
    assert f"best config of the 1,500 completed trials: {best}  (siamkit train {best})" in (
        res.output.splitlines()
    )
