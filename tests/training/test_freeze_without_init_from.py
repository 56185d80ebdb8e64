"""``model.freeze_encoder_epochs`` without ``model.init_from`` (``--init-from`` forgotten, as
README's ``--set model.freeze_encoder_epochs=2`` recipe is easily run) froze the randomly built
encoder and said only that the encoder stays frozen: the run now notes, at the start, that no
saved model was given and how to give one; a run started from a model does not."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from siamkit.cli.main import cli

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
NOTE = (
    "note: no model.init_from, so the frozen encoder (convnet) keeps the weights it was built "
    "with (random for siamkit's own encoders), not a saved model's: give --init-from MODEL to "
    "start from one\n"
)
ARGS = ["train", str(TINY), "--no-progress", "--episodes", "2"]
ARGS += ["--set", "train.epochs=2", "--set", "train.steps_per_epoch=1"]


def test_freezing_without_a_start_model_is_noted_once_at_the_start(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, [*ARGS, "--out", str(tmp_path / "a"), "--set", "model.freeze_encoder_epochs=1"]
    )
    assert res.exit_code == 0, res.output
    assert res.output.count(NOTE) == 1, res.output
    assert res.output.index(NOTE) < res.output.index("training on")
    # from a saved model (the first run's), and unfrozen: no note
    res = CliRunner().invoke(
        cli,
        [*ARGS, "--out", str(tmp_path / "b"), "--set", "model.freeze_encoder_epochs=1",
         "--init-from", str(tmp_path / "a" / "model")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "note: no model.init_from" not in res.output
    res = CliRunner().invoke(cli, [*ARGS, "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert "note: no model.init_from" not in res.output
