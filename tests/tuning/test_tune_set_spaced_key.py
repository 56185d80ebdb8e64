"""``siamkit tune --set "optim. lr=0.005"``: apply_overrides reads the key as optim.lr (its dotted
parts stripped) and sets it, but --set's pinning compared the text, so the study searched
optim.lr anyway and best.yaml held a drawn rate, not the one set."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def test_a_set_key_written_with_spaces_is_fixed_not_searched(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(
        "optim.lr: {float: [1.0e-4, 1.0e-2], log: true}\nloss.margin: {float: [0.1, 0.3]}\n"
    )
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--trials", "1", "--space", str(space), "--out", str(out),
         "--set", "data.val_classes=[4, 5]", "--set", "train.epochs=1",
         "--set", "train.steps_per_epoch=1", "--set", "optim. lr = 0.005", "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "not searched, fixed by --set: optim.lr" in res.output
    assert yaml.safe_load((out / "best.yaml").read_text())["optim"]["lr"] == 0.005
