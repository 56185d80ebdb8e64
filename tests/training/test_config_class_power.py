"""A ``train.class_power`` beyond PKSampler's bound (f729fda3) was refused only when the sampler
was built, after the data loaded (seconds for digits, minutes for a large image folder, and a
study's whole preflight for ``siamkit tune``): the config checks now refuse it, before any data
is read, in the same bound."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.data import sources
from siamkit.data.samplers import MAX_CLASS_POWER, PKSampler
from siamkit.training import apply_overrides, load_config

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


@pytest.mark.parametrize("power", [1.0e7, -2.0e6])
@pytest.mark.parametrize("command", ["train", "tune"])
def test_a_power_the_sampler_refuses_is_refused_before_any_data_is_read(
    tmp_path: Path, monkeypatch, command: str, power: float
) -> None:
    read: list[str] = []

    def digits(*args: object, **kwargs: object) -> sources.Source:
        read.append("digits")
        raise AssertionError("the data were read")

    monkeypatch.setitem(sources.DATA_SOURCES._factories, "digits", digits)
    cfg = yaml.safe_load(TINY.read_text())
    cfg.setdefault("data", {})["val_classes"] = [4, 5]
    cfg.setdefault("train", {})["class_power"] = power
    path = tmp_path / "power.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, [command, str(path), "--out", str(out)])
    assert res.exit_code != 0, res.output
    assert read == [] and not out.exists(), res.output
    assert "train.class_power must be a number in [-1e+06, 1e+06]" in res.output, res.output
    assert f"got {power!r}" in res.output, res.output


def test_the_config_bound_is_the_samplers() -> None:
    """The largest power either way is a config and a sampler; just past it, neither."""
    labels = [0] * 6 + [1] * 6 + [2] * 3
    for power in (MAX_CLASS_POWER, -MAX_CLASS_POWER):
        cfg = apply_overrides(load_config(TINY), [f"train.class_power={power}"])
        assert cfg.train.class_power == power
        PKSampler(labels, p=2, k=2, class_power=power)
    for power in (MAX_CLASS_POWER * 1.5, -MAX_CLASS_POWER * 1.5):
        with pytest.raises(ValueError, match=r"train\.class_power must be"):
            apply_overrides(load_config(TINY), [f"train.class_power={power}"])
        with pytest.raises(ValueError, match="too large"):
            PKSampler(labels, p=2, k=2, class_power=power)


def test_a_space_reaching_past_the_bound_is_refused_before_the_study(tmp_path: Path) -> None:
    """siamkit tune's space check applies each end of a searched range: a class_power range
    past the bound is refused before the study (every trial drawing above 1e6 failed)."""
    from siamkit.tuning import run_study

    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]"])
    space = {"train.class_power": {"float": [0.0, 1.0e7]}}
    with pytest.raises(ValueError, match=r"train\.class_power must be a number in \[-1e\+06"):
        run_study(base, space, tmp_path / "tune", n_trials=1, progress=False)
    assert not (tmp_path / "tune").exists()
