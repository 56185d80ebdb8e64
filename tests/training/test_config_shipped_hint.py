"""A missing config that siamkit ships by that name (an installed siamkit has no configs/ folder
until `siamkit configs` writes one) is answered with the command that writes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.training import load_config


def test_a_shipped_name_points_to_siamkit_configs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        load_config(tmp_path / "configs" / "demo.yaml")
    assert "does not exist" in str(e.value)
    assert "`siamkit configs` writes" in str(e.value)


def test_another_name_gets_no_hint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        load_config(tmp_path / "configs" / "my-own-run.yaml")
    assert str(e.value) == f"config file {tmp_path / 'configs' / 'my-own-run.yaml'} does not exist"


def test_siamkit_train_says_it(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, ["train", str(tmp_path / "configs" / "text-pairs.yaml"), "--out", str(tmp_path / "r")]
    )
    assert res.exit_code != 0
    assert "`siamkit configs` writes" in res.output
    assert not (tmp_path / "r").exists()
