"""A list-of-float config value given as one comma-separated string (``--set
data.score_range=0,5`` of a text training config) is refused with the form to write, ``[0, 5]``
(it said only "must be a list of float, got '0,5'"); what is accepted is unchanged."""

from __future__ import annotations

import pytest

from siamkit.applications.text.train_config import parse_config
from siamkit.training.config import RunConfig
from siamkit.training.config_overrides import apply_overrides
from siamkit.training.config_sections import ConfigError


def test_a_comma_separated_score_range_is_answered_with_the_list_to_write() -> None:
    doc = {"data": {"train": "pairs.csv"}}
    with pytest.raises(ValueError, match=r"got '0,5'; write it as a list, \[0, 5\]$"):
        parse_config(doc, ("data.score_range=0,5",))
    assert parse_config(doc, ("data.score_range=[0, 5]",)).data.score_range == [0.0, 5.0]
    with pytest.raises(ValueError, match=r"must be a list of float, got 'low,5'$"):  # no form
        parse_config(doc, ("data.score_range=low,5",))


def test_a_run_configs_list_of_float_says_it_too() -> None:
    with pytest.raises(ConfigError, match=r"got '0.5,0.25'; write it as a list, \[0.5, 0.25\]$"):
        apply_overrides(RunConfig(), ["model.input_mean=0.5,0.25"])
