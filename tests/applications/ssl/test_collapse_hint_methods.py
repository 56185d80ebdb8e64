"""A collapsed run's hint offers other methods than its own: a SimCLR run that collapsed (an
unusual weight decay, or a high ssl.collapse_std) was told to try 'method: simclr / vicreg /
barlow_twins', the method it already ran."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli

DOC = {
    "task": "ssl",
    "data": {"dataset": "digits"},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8, 16]}, "embedding_dim": 16},
    "ssl": {"proj_dim": 16, "proj_hidden": 32, "pred_hidden": 8, "collapse_std": 0.99},
    "train": {"epochs": 1, "batch_size": 32, "steps_per_epoch": 1, "knn_k": 5, "device": "cpu"},
}


@pytest.mark.parametrize(
    ("method", "offered"),
    [
        ("simclr", "method: vicreg / barlow_twins"),
        ("vicreg", "method: simclr / barlow_twins"),
        ("simsiam", "method: simclr / vicreg / barlow_twins"),
    ],
)
def test_the_collapse_hint_leaves_out_the_runs_method(
    tmp_path: Path, method: str, offered: str
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**DOC, "method": method}))
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]
    )
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("Error: epoch 1: the embedding collapsed"), res.output
    assert f"stronger views or {offered};" in last, last
    assert not (tmp_path / "o" / "model").exists()
