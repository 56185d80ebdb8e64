"""A ``train.class_power`` beyond PKSampler's bound (f729fda3) was refused only when the sampler
was built, after the data loaded (seconds for digits, minutes for a large image folder, and a
study's whole preflight for ``siamkit tune``): the config checks now refuse it, before any data
is read, in the same bound."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.data import sources
from siamkit.data.samplers import CLASS_POWER_PAST_THE_BOUND, MAX_CLASS_POWER, PKSampler
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


def test_the_config_and_the_sampler_say_why_in_one_text() -> None:
    """Both refusals said a larger power "loses the random order of classes of one size to
    rounding", false just past the bound (reviewer s53_R7): both now give the one text."""
    with pytest.raises(ValueError) as config:
        apply_overrides(load_config(TINY), ["train.class_power=2e6"])
    with pytest.raises(ValueError) as sampler:
        PKSampler([0, 0, 1, 1, 2], p=2, k=2, class_power=2e6)
    assert str(config.value) == (
        "train.class_power must be a number in [-1e+06, 1e+06] (0 uniform, 1 by class size; "
        f"{CLASS_POWER_PAST_THE_BOUND}), got 2000000.0."
    )
    assert str(sampler.value) == (
        "class_power 2000000.0 is too large: give a power between -1e+06 and 1e+06, usually "
        "near 0 to 1 (0 draws the classes uniformly, 1 by their size, a negative one favours "
        f"the small classes); {CLASS_POWER_PAST_THE_BOUND}"
    )
    assert CLASS_POWER_PAST_THE_BOUND == (
        "a power further from 0 draws no differently in practice, and from about 1e15 would "
        "lose the random order of classes of one size to rounding"
    )


@pytest.mark.parametrize(("power", "random"), [(1e7, True), (1e12, True), (1e16, False)])
def test_past_the_bound_the_order_of_classes_of_one_size_is_lost_only_from_about_1e15(
    monkeypatch: pytest.MonkeyPatch, power: float, random: bool
) -> None:
    """What the text says, with the bound lifted: of the two 3,000-image classes, the one drawn
    beside the two certain 6,000-image ones is either with exact chance 1/2 at 1e7 and 1e12 (the
    text said this was lost past 1e6), and always the lower index at 1e16."""
    from siamkit.data import samplers

    monkeypatch.setattr(samplers, "MAX_CLASS_POWER", 1e300)
    labels = np.repeat(np.arange(5), [6000, 6000, 3000, 3000, 1])
    n = 400
    s = samplers.PKSampler(labels, p=3, k=2, seed=0, class_power=power, batches_per_epoch=n)
    third = Counter(int(c) for b in s.plan() for c in set(labels[b].tolist()) - {0, 1})
    assert sum(third.values()) == n and set(third) <= {2, 3}
    if random:
        assert abs(third[2] - n / 2) <= 4 * (n / 4) ** 0.5, third  # binomial, 4 sd
    else:
        assert third == {2: n}
