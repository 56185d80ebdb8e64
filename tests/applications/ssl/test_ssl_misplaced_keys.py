"""A key put in the wrong section of a ``task: ssl`` config is refused in a sentence saying where
it belongs: the generic unknown-key sentence offered ``train_classes`` for ``data.val_classes``,
and said nothing of the top-level ``method`` for ``ssl.method``, or of ``optim.lr`` for
``train.lr``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from siamkit.applications.ssl.config import apply_ssl_overrides, ssl_config_from_dict
from siamkit.applications.ssl.methods import METHODS
from siamkit.cli.main import cli
from siamkit.training.config_sections import ConfigError

BASE: dict[str, Any] = {"method": "simclr", "data": {"dataset": "digits"}}


def _refusal(*overrides: str) -> str:
    with pytest.raises(ConfigError) as err:
        ssl_config_from_dict(apply_ssl_overrides(BASE, overrides))
    return str(err.value)


@pytest.mark.parametrize("section", ["ssl", "train", "views"])
def test_a_method_inside_a_section_names_the_top_level_key(section: str) -> None:
    said = _refusal(f"{section}.method=byol")
    assert said.startswith(f"{section}.method is not a key"), said
    assert "method: byol, or --set method=byol" in said
    assert ", ".join(METHODS) in said


@pytest.mark.parametrize(
    ("override", "home"),
    [("train.lr=0.1", "optim.lr"), ("optim.batch_size=8", "train.batch_size"),
     ("train.temperature=0.1", "ssl.temperature"), ("ssl.crop_scale=[0.2,1]", "views.crop_scale")],
)  # fmt: skip
def test_a_key_of_another_section_names_its_section(override: str, home: str) -> None:
    said = _refusal(override)
    assert f"it is {home} (move it to section {home.split('.')[0]}, or --set {home}=...)" in said


def test_supervised_data_keys_say_what_a_self_supervised_run_uses() -> None:
    said = _refusal("data.val_classes=[4,5]")
    assert said.startswith("data.val_classes is not a key of task: ssl"), said
    assert "did you mean 'train_classes'" not in said
    assert "data.val_fraction" in said and "data.val_root" in said
    said = _refusal("data.augmentation=none")
    assert said.startswith("data.augmentation is not a key of task: ssl"), said
    assert "section views" in said


def test_a_plain_misspelling_keeps_the_generic_sentence() -> None:
    said = _refusal("train.epoch=3")
    assert "unknown key 'epoch' in section 'train' (did you mean 'epochs'?)" in said


def test_the_command_line_refuses_it_in_one_sentence_and_writes_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"task": "ssl", **BASE, "ssl": {"method": "byol"}}))
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--no-progress"])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ssl.method is not a key"), res.output
    assert not out.exists()


def test_a_method_override_with_a_key_says_method_is_a_name() -> None:
    said = _refusal("method.name=byol")
    assert said == (
        "override 'method.name=byol': method is a name, not a section: --set method=NAME, one "
        f"of {', '.join(METHODS)}"
    )
