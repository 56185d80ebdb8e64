"""README's lines on calling siamkit from Python (a config as a mapping, another task's runner,
the text functions) name calls that exist and run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n#", start + len(title))
    return README[start : end if end > 0 else None]


def test_readme_runs_a_config_written_as_a_dict(monkeypatch, tmp_path):
    """config_from_dict (1fdf20b) and the task runners (2a73793) were named in no README line, so
    a notebook user had load_config's file path as the only way in."""
    import siamkit.experiment
    from siamkit.training import ConfigError, RunConfig, config_from_dict

    text = " ".join(_section("## A run as a library call").split())
    call = re.search(r"`(run_experiment\(config_from_dict\(.*?\), \"runs/d\"\))`", text)
    assert call, "README no longer shows run_experiment of config_from_dict"
    ran: list[tuple[RunConfig, str]] = []
    monkeypatch.setattr(siamkit.experiment, "run_experiment", lambda c, o: ran.append((c, o)))
    names = {
        "run_experiment": siamkit.experiment.run_experiment,
        "config_from_dict": config_from_dict,
    }
    eval(call.group(1), names)
    assert ran and ran[0][0].data.dataset == "digits" and ran[0][0].train.epochs == 1
    assert "get_task(task)(doc, out_dir, TaskOptions())" in text
    with pytest.raises(ConfigError, match=re.escape("siamkit.training.get_task('ssl')")):
        config_from_dict(yaml.safe_load((ROOT / "configs" / "simclr.yaml").read_text()))
