"""The pre-study build of each searched model.* value used the config's other values, not the
space's: ConvNet widths [8] beside the config's taps [1] were refused, though every trial
drew taps [0] and built."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tests.tuning._tiny_study import tiny_base

from siamkit.training import RunData, apply_overrides, build_model, load_run_data
from siamkit.tuning import run_study


@pytest.fixture
def base():
    return tiny_base("model.encoder_kwargs={widths: [8, 16], taps: [1]}")


def _builds(cfg, data: RunData) -> bool:
    try:
        build_model(cfg.model, data.input_shape, *data.channel_stats())
    except ValueError:
        return False
    return True


def test_widths_refused_beside_the_configs_taps_but_not_the_spaces_train(
    base, tmp_path: Path
) -> None:
    data = load_run_data(base.data)
    narrow = apply_overrides(base, ["model.encoder_kwargs.widths=[8]"])
    assert not _builds(narrow, data)  # beside the config's taps [1]
    assert _builds(apply_overrides(narrow, ["model.encoder_kwargs.taps=[0]"]), data)
    space = {
        "model.encoder_kwargs.widths": {"choice": [[8], [8, 16]]},
        "model.encoder_kwargs.taps": {"choice": [[0]]},
    }
    result = run_study(base, space, tmp_path, n_trials=2, progress=False)
    assert result.complete == 2
    with (tmp_path / "trials.csv").open() as f:
        assert {r["state"] for r in csv.DictReader(f)} == {"complete"}


def test_widths_refused_beside_every_searched_taps_are_refused_before_the_study(
    base, tmp_path: Path
) -> None:
    """The sentence names the searched key, and no longer tells to change the config's taps,
    which no trial keeps."""
    space = {
        "model.encoder_kwargs.widths": {"choice": [[8], [8, 16]]},
        "model.encoder_kwargs.taps": {"choice": [[1], [2]]},
    }
    with pytest.raises(ValueError) as err:
        run_study(base, space, tmp_path / "s", n_trials=1, progress=False)
    assert str(err.value) == (
        "search space: model.encoder_kwargs.widths = [8] builds no model with this config beside "
        "each searched value of model.encoder_kwargs.taps (ConvNet taps must be distinct block "
        "indices in 0..0, got [1]): change that choice"
    )
    assert not (tmp_path / "s").exists()
