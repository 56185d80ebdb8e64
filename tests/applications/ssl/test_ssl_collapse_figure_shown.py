"""The epoch line showed the collapse figure to 3 decimals ("collapse std 0.001") where the
collapse error showed 4 ("= 0.0005"): two numbers for one measure, the first reading above a
threshold it was below. Both now show one text, with the digits to compare with the threshold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import siamkit.applications.ssl.trainer as ssl_trainer
from siamkit.applications.ssl.trainer import std_text
from siamkit.cli.main import cli

DOC = {
    "task": "ssl",
    "method": "simclr",
    "data": {"dataset": "digits"},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8, 16]}, "embedding_dim": 16},
    "ssl": {"proj_dim": 16, "proj_hidden": 32, "pred_hidden": 8},  # collapse_std: 0.02
    "train": {"epochs": 1, "batch_size": 32, "steps_per_epoch": 1, "knn_k": 5, "device": "cpu"},
}


def test_the_epoch_line_and_the_collapse_error_show_one_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ssl_trainer, "collapse_std", lambda z: 0.00052)  # a collapsed measure
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(DOC))
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]
    )
    assert res.exit_code == 1, res.output
    line = re.search(r"epoch 1/1: .*collapse std ([0-9.]+),", res.output)
    error = re.search(r"std x sqrt\(D\) = ([0-9.]+), below ssl.collapse_std = 0.02\)", res.output)
    assert line is not None and error is not None, res.output
    assert line[1] == error[1]
    assert float(line[1]) == pytest.approx(0.00052, abs=0.00005)


@pytest.mark.parametrize(
    ("std", "threshold"),
    [(0.00052, 0.02), (0.019996, 0.02), (0.0200004, 0.02), (0.7, 0.02), (0.3, 0.30000001),
     (1e-9, 1e-8), (0.0, 0.02), (0.5, 0.0)],
)  # fmt: skip
def test_the_figure_reads_on_its_side_of_the_threshold(std: float, threshold: float) -> None:
    text = std_text(std, threshold)
    assert (float(text) < threshold) == (std < threshold), text
    assert float(text) == pytest.approx(std, abs=5e-5)
