"""`enroll`, `identify`, `verify` and `serve` --help described "A half-twin model (task:
half_twin, two towers)", naming a config that a half-twin built and saved in Python never had
(s57_m7, noticed). Each now names both origins: a `task: half_twin` run or a HalfTwinNetwork
saved in Python."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli


@pytest.mark.parametrize("command", ["enroll", "identify", "verify", "serve"])
def test_help_names_both_origins_of_a_half_twin(command: str) -> None:
    res = CliRunner().invoke(cli, [command, "--help"])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "(task: half_twin, two towers)" not in said, said
    assert (
        "A half-twin model (two towers: trained with `task: half_twin`, or a HalfTwinNetwork "
        "saved in Python)" in said
    ), said


def test_export_help_names_both_origins_of_a_half_twin() -> None:
    """`export --help` said "A half-twin (task: half_twin) writes its branch f ...", and export
    writes both branches of a HalfTwinNetwork saved in Python too (s58_r5 finding 1)."""
    res = CliRunner().invoke(cli, ["export", "--help"])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "(task: half_twin)" not in said, said
    assert (
        "A half-twin (two towers: trained with `task: half_twin`, or a HalfTwinNetwork saved "
        "in Python) writes its branch f" in said
    ), said
