"""A continued study's first line counts its finished trials as every message counts
(siamkit.clauses.counted): "1 trial finished, 1 wanted", not "1 trials finished"."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from siamkit.cli.main import cli

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
SETS = ["data.val_classes=[4, 5]", "train.epochs=1", "train.steps_per_epoch=1"]


def test_a_study_of_one_finished_trial_asked_for_one_says_one_trial(tmp_path: Path) -> None:
    out = tmp_path / "study"
    args = ["tune", str(TINY), "--trials", "1", "--out", str(out), "--no-progress"]
    for s in SETS:
        args += ["--set", s]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert (
        f"continuing the study in {out / 'study.db'}: 1 trial finished, 1 wanted: none to go "
        "(give a larger --trials to run more)"
    ) in again.output.splitlines()
