"""The one rule every command uses for "was this option given on the command line?"."""

from __future__ import annotations

import click
from click.testing import CliRunner

from siamkit.cli._inputs import options_given, refuse_given


@click.command()
@click.option("--split", default="test")
@click.option("--data-dir", default=None)
@click.option("--shots", default=1, envvar="SIAMKIT_TEST_SHOTS")
def _cmd(split: str, data_dir: str | None, shots: int) -> None:
    ctx = click.get_current_context()
    click.echo(" ".join(options_given(ctx, ("split", "data_dir", "shots"))) or "-")
    refuse_given(ctx, ("split", "data_dir", "shots"), "for something else")


def test_only_options_typed_on_the_command_line_count() -> None:
    runner = CliRunner()
    # defaults and the environment are not "given"
    out = runner.invoke(_cmd, [], env={"SIAMKIT_TEST_SHOTS": "3"})
    assert out.exit_code == 0 and out.output.strip() == "-"
    # a value equal to the default, typed, is given
    out = runner.invoke(_cmd, ["--split", "test"])
    assert out.exit_code == 2
    assert "--split is for something else: leave it out" in out.output


def test_several_given_options_are_named_in_one_sentence() -> None:
    out = CliRunner().invoke(_cmd, ["--shots", "2", "--split", "x", "--data-dir", "."])
    assert out.exit_code == 2
    assert "--split, --data-dir and --shots are for something else: leave them out" in out.output
