"""Shared CLI fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli

TINY = str(Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml")


@pytest.fixture(scope="session")
def tiny_demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``siamkit demo`` on configs/digits-tiny.yaml (1 epoch, 10 episodes, CPU), for tests
    that read its outputs; do not write into it."""
    out = tmp_path_factory.mktemp("demo") / "out"
    args = ["demo", "--config", TINY, "--out", str(out), "--epochs", "1", "--episodes", "10"]
    res = CliRunner().invoke(cli, [*args, "--no-progress", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    return out
