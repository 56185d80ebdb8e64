"""siamkit train with a loss or miner setting out of its range stops at the config, before the
data loads, naming the key; no output folder is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli

TINY = str(Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml")


@pytest.mark.parametrize(
    ("sets", "refusal"),
    [
        (
            ["loss.kind=margin", "loss.params.nu=-0.1"],
            "loss.params.nu must be a finite number >= 0 (the paper's 0 or 0.1), got -0.1.",
        ),
        (
            ["loss.kind=sub_center_arcface", "loss.mining=null", "loss.params.sub_centers=0"],
            "loss.params.sub_centers must be a whole number >= 1 (the paper's 3), got 0.",
        ),
        (
            ["loss.kind=tuplet_margin", "loss.mining=null", "loss.params.scale=0"],
            "loss.params.scale must be a finite number > 0 (the paper's 64), got 0.",
        ),
        (
            ["loss.kind=contrastive", "loss.mining=pair_margin", "loss.miner_params.neg_margin=x"],
            "loss.miner_params.neg_margin must be a finite number (a distance), got 'x'.",
        ),
    ],
)
def test_train_refuses_a_bad_loss_setting_before_loading_anything(
    tmp_path: Path, sets: list[str], refusal: str
) -> None:
    out = tmp_path / "o"
    args = ["train", TINY, "--out", str(out), "--no-progress"]
    res = CliRunner().invoke(cli, args + [a for s in sets for a in ("--set", s)])
    assert res.exit_code != 0
    assert f"Error: {refusal}" in res.output, res.output
    assert "loading" not in res.output  # refused before the data loads
    assert not out.exists()
