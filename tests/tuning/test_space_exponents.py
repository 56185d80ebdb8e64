"""A space file's range written with an exponent and no dot (``1e-4``), which YAML 1.1 (PyYAML)
reads as a string: the config takes ``optim.lr: 1e-4`` as a number, the space refused
``{float: [1e-4, 1e-2], log: true}`` as "not low < high"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from optuna.distributions import FloatDistribution, IntDistribution

from siamkit.tuning import load_space
from siamkit.tuning.study import _distribution


def test_an_exponent_range_is_the_range_optuna_gets(tmp_path: Path) -> None:
    text = (
        "optim.lr: {float: [1e-4, 3E-2], log: true}\n"
        "loss.margin: {float: [-1e-1, 5e-1]}\n"
        "train.steps_per_epoch: {int: [1e1, 2e+1]}\n"
    )
    assert isinstance(yaml.safe_load(text)["optim.lr"]["float"][0], str)  # what YAML gives
    space = tmp_path / "space.yaml"
    space.write_text(text)
    got = [_distribution(p) for p in load_space(space).params]
    assert got == [
        FloatDistribution(1e-4, 3e-2, log=True),
        FloatDistribution(-0.1, 0.5),
        IntDistribution(10, 20),
    ]


@pytest.mark.parametrize("end", ["x", "'1e-4 1'", ".nan"])
def test_a_range_end_that_is_no_number_is_still_refused(tmp_path: Path, end: str) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(f"optim.lr: {{float: [{end}, 1.0e-2]}}\n")
    with pytest.raises(ValueError, match="float must be"):
        load_space(space)
