"""A TAR@FAR that the impostor pairs cannot measure (fewer than 1/FAR of them): the report's table
says "not measured", while its ROC figure drew the point and put "TAR = 1.000 @ FAR = 0.001" in
its legend, and --json / metrics.json gave the value with nothing saying it was not measured."""

from __future__ import annotations

import json

import numpy as np
import pytest

from siamkit.evaluation import verification_report
from siamkit.evaluation.plots import plot_roc, plot_roc_det

FARS = (0.05, 0.01, 0.001)


@pytest.fixture
def thirty_impostors():
    rng = np.random.default_rng(0)
    genuine, impostor = rng.uniform(0, 1, 25), rng.uniform(0.5, 2, 30)
    return verification_report(genuine, impostor, fars=FARS)


def _measured(n_impostor: int) -> dict[float, bool]:
    """A FAR can be measured when one false accept among the pairs is at most that rate."""
    return {far: 1 / n_impostor <= far for far in FARS}


def test_the_roc_draws_and_names_only_the_far_points_the_pairs_measure(thirty_impostors):
    rep = thirty_impostors
    measured = _measured(rep.n_impostor)
    assert measured == {0.05: True, 0.01: False, 0.001: False}
    for fig in (plot_roc(rep), plot_roc(rep, log_far=True), plot_roc_det(rep)):
        ax = fig.axes[0]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        named = [far for far in FARS if any(s.endswith(f"@ FAR = {far:g}") for s in legend)]
        assert named == [far for far in FARS if measured[far]], legend
        squares = [line for line in ax.lines if line.get_marker() == "s"]
        assert sorted(float(line.get_xdata()[0]) for line in squares) == [0.05]


def test_the_json_says_which_tar_at_far_is_measured_and_keeps_every_value(thirty_impostors):
    d = json.loads(json.dumps(thirty_impostors.to_dict()))
    assert d["tar_at_far"] == {str(f): thirty_impostors.tar_at_far[f] for f in FARS}
    assert d["tar_at_far_measured"] == {str(f): m for f, m in _measured(30).items()}
    enough = verification_report(np.zeros(3), np.ones(1000), fars=FARS).to_dict()
    assert enough["tar_at_far_measured"] == {str(f): True for f in FARS}
