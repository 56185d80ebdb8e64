"""``face evaluate --lfw-pairs`` counted each fold's accuracy at its threshold by a strict
``distance <= threshold``, while a model given that threshold accepts a pair within float32
rounding above it (siamkit.decision.accepts): a different-people pair 0.5e-5 over the fold's
threshold, which the model calls the same person, was counted a correct reject."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.faces.lfw import kfold_accuracy
from siamkit.decision import accepts


@pytest.mark.parametrize("over", [0.5e-5, 2e-5])
def test_each_folds_accuracy_is_that_of_the_models_verdicts(over: float) -> None:
    # fold 0 puts the threshold between 0.4 and 0.6; fold 1 is the other way round
    d = np.array([0.4, 0.6, 0.4, 0.6, 0.5 + over, 0.3, 0.5 + over, 0.3])
    same = np.array([True, False, True, False, False, True, False, True])
    fold = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    got = kfold_accuracy(d, same, fold)
    for k in (0, 1):
        test = fold == k
        # the reference: a model given the fold's threshold, pair by pair
        said = [bool(accepts(float(x), float(got.fold_threshold[k]))) for x in d[test]]
        assert got.fold_accuracy[k] == pytest.approx(np.mean(np.array(said) == same[test]))
    assert got.fold_accuracy[1] == 1.0  # 0.5 + over is rejected: the threshold stays under 0.5
