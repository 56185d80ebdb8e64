"""A tiny validation set with one impostor pair: the log-FAR ROC set its x-limits to (1.0, 1.0),
and matplotlib warned "Attempting to set identical low and high xlims" into the training output."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from siamkit.evaluation import verification_from_embeddings
from siamkit.evaluation.plots import figure_to_png, plot_roc, plot_roc_det


def test_the_log_far_roc_of_one_impostor_pair_draws_without_a_warning() -> None:
    z, y = torch.tensor([[0.0], [0.1], [1.0]]), torch.tensor([0, 0, 1])
    report = verification_from_embeddings(z, y, max_pairs=2, seed=1)  # one pair of each kind
    assert (report.n_genuine, report.n_impostor) == (1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = [plot_roc_det(report), plot_roc(report, log_far=True)]
        for fig in figures:
            ax = fig.axes[0]
            low, high = ax.get_xlim()
            assert ax.get_xscale() == "log" and 0 < low < high and high == 1.0
            np.testing.assert_allclose(ax.lines[0].get_xdata(), report.curve.far)
            assert figure_to_png(fig, dpi=40)[:4] == b"\x89PNG"
