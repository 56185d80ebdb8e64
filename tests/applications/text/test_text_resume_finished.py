"""``siamkit train ... --resume`` of a finished text run said that nothing was left to train,
but not how to train longer: its ``train.epochs`` cannot change on resume (the warm-up and decay
span all its steps), so the line now advises a new run from its model, in a command that works
for a config naming ``model.path`` (``--init-from`` beside another model.path is refused)."""

from __future__ import annotations

import shlex
from pathlib import Path

from _text_runs import finished_line, finished_text_run
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.training.resume_note import text_finished_line


def _advised(line: str) -> list[str]:
    """The options of the command the finished-run line advises: ``(--init-from ... --out NEW)``."""
    return shlex.split(line.split("start a new run from its model (", 1)[1].split(")", 1)[0])


def test_a_finished_text_run_resumed_says_how_to_train_longer_and_that_works(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    cfg, out, args = finished_text_run(pairs_csv, tiny_hf, tmp_path)
    again = CliRunner().invoke(cli, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    said = [line for line in again.output.splitlines() if "holds a finished run" in line]
    assert said == [finished_line(out)]  # (it ends there: test_text_resume_complete.py)
    # a resume with more epochs is refused, as the line says ...
    longer = CliRunner().invoke(cli, [*args, "--set", "train.epochs=2", "--resume"])
    assert longer.exit_code != 0 and "train.epochs" in longer.output, longer.output
    # ... and the command it advises trains from the run's model, with the config as it is
    # (the --init-from alone is refused beside the config's model.path)
    new = tmp_path / "new"
    advised = [a if a != "NEW" else str(new) for a in _advised(said[0])]
    res = CliRunner().invoke(cli, ["train", str(cfg), "--no-progress", *advised])
    assert res.exit_code == 0, res.output
    assert f"starting from the weights of {out}/model" in res.output
    assert (new / "model").is_dir()


def test_a_run_of_the_default_model_is_advised_init_from_alone() -> None:
    # model.path null (all-MiniLM-L6-v2, which a test cannot download): nothing to unset
    line = text_finished_line("r/checkpoint.pt", 2, 2, "r", None)
    assert line == (
        "r/checkpoint.pt holds a finished run (2 of 2 epochs): nothing is left to train, so the "
        "model is validated and saved again; to train longer, start a new run from its model "
        "(--init-from r/model --out NEW): a text run's warm-up and decay span its train.epochs, "
        "which a resume cannot change"
    )
