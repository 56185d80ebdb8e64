"""config_from_dict of a whole YAML file's mapping, as a notebook user reads one: its task key is
taken as load_config takes it (task: embedding is this run), and another task's mapping says
how to run it instead of calling its sections unknown."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from siamkit.training import ConfigError, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_task_embedding_is_this_run_as_load_config_reads_it() -> None:
    doc = yaml.safe_load((CONFIGS / "demo.yaml").read_text())
    assert config_from_dict({**doc, "task": "embedding"}) == load_config(CONFIGS / "demo.yaml")


def test_another_tasks_mapping_names_its_runner() -> None:
    # was: unknown section 'method', 'task'; valid sections: data, model, ...
    doc = yaml.safe_load((CONFIGS / "simclr.yaml").read_text())
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc)
    assert str(err.value).startswith("this is a task: ssl config, not a supervised embedding")
    assert "siamkit.training.get_task('ssl')" in str(err.value)
