"""A copy of configs/simclr.yaml without its ``task: ssl`` line is read as a supervised config,
which refused its method, views and ssl keys as unknown sections and listed a supervised
config's: nothing said that the task line was missing. The sentence now says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.training.config_io import config_from_dict
from siamkit.training.config_sections import ConfigError

SIMCLR = Path(__file__).resolve().parents[2] / "configs" / "simclr.yaml"
HINT = (
    "; method, views and ssl belong to a self-supervised config: put task: ssl at its top, as "
    "configs/simclr.yaml does"
)


def _without_task() -> dict[str, object]:
    doc = yaml.safe_load(SIMCLR.read_text())
    assert doc.pop("task") == "ssl"
    return doc


def test_the_missing_task_line_is_named() -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(_without_task())
    assert str(err.value).startswith("unknown sections 'method', 'views', 'ssl'; valid sections:")
    assert str(err.value).endswith(HINT)


def test_one_such_key_is_said_in_the_singular_and_a_typo_gets_no_hint() -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict({"method": "byol"})
    assert str(err.value).endswith(
        "; method belongs to a self-supervised config: put task: ssl at its top, as "
        "configs/simclr.yaml does"
    )
    with pytest.raises(ConfigError) as err:
        config_from_dict({"trian": {}})
    assert "self-supervised" not in str(err.value)


def test_the_command_line_says_it_in_one_sentence_and_writes_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump(_without_task(), sort_keys=False))
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--no-progress"])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(HINT), res.output
    assert not out.exists()
