"""ROC, AUC, EER, TAR@FAR and best accuracy against scikit-learn and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from siamkit.evaluation import (
    SortedScores,
    best_accuracy,
    eer,
    far_operating_point,
    roc_auc,
    roc_curve,
    tar_at_far,
)


def _scores(seed: int, ties: bool, n_g: int = 300, n_i: int = 900):
    rng = np.random.default_rng(seed)
    g = rng.normal(1.0, 0.5, n_g)
    m = rng.normal(1.8, 0.6, n_i)
    if ties:  # coarse values: many exact ties within and across the two sets
        g, m = np.round(g, 1), np.round(m, 1)
    return g, m


def _sk(g, m):
    y = np.r_[np.ones(g.size), np.zeros(m.size)]
    return y, -np.r_[g, m]  # higher score = more similar


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_roc_curve_and_auc_match_sklearn(seed, ties):
    g, m = _scores(seed, ties)
    y, score = _sk(g, m)
    fpr, tpr, thr = sk_roc_curve(y, score, drop_intermediate=False)
    ours = roc_curve(g, m)
    np.testing.assert_allclose(ours.far, fpr)
    np.testing.assert_allclose(ours.tar, tpr)
    np.testing.assert_allclose(ours.thresholds[1:], -thr[1:])
    assert ours.thresholds[0] == -np.inf
    assert roc_auc(g, m) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_auc_hand_cases():
    assert roc_auc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert roc_auc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert roc_auc([0.5, 0.5], [0.5]) == 0.5  # all tied
    assert roc_auc([0.1, 0.2], [0.2, 0.9]) == pytest.approx(3.5 / 4)


def _reference_eer(g, m):
    """EER from scikit-learn's full curve, interpolated where FRR - FAR changes sign."""
    y, score = _sk(g, m)
    fpr, tpr, _ = sk_roc_curve(y, score, drop_intermediate=False)
    frr = 1 - tpr
    k = int(np.argmax(fpr - frr >= 0))
    gap_p, gap_k = frr[k - 1] - fpr[k - 1], frr[k] - fpr[k]
    a = gap_p / (gap_p - gap_k)
    return fpr[k - 1] + a * (fpr[k] - fpr[k - 1])


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("ties", [False, True])
def test_eer_matches_interpolated_reference(seed, ties):
    g, m = _scores(seed, ties)
    point = eer(g, m)
    assert point.value == pytest.approx(_reference_eer(g, m), abs=1e-12)
    # at the EER threshold FAR and FRR straddle the EER
    s = SortedScores(g, m)
    lo, hi = np.nextafter(point.threshold, -np.inf), point.threshold
    assert min(s.far(lo), 1 - s.tar(hi)) <= point.value + 1e-12
    assert max(s.far(hi), 1 - s.tar(lo)) >= point.value - 1e-12


def test_eer_hand_cases():
    p = eer([1.0, 2.0, 3.0, 4.0], [2.5, 5.0, 6.0, 7.0])
    assert p.value == pytest.approx(0.25) and p.threshold == pytest.approx(3.0)
    p = eer([0.1, 0.2], [0.5, 0.6])  # separable: zero error between the sets
    assert p.value == 0.0 and 0.2 <= p.threshold < 0.5
    assert eer([0.5, 0.6], [0.1, 0.2]).value == pytest.approx(1.0)  # inverted
    assert eer(np.full(10, 0.3), np.full(30, 0.3)).value == pytest.approx(0.5)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("far", [0.0, 1e-3, 1e-2, 0.1, 0.5, 1.0])
def test_tar_at_far_matches_sklearn_curve(ties, far):
    g, m = _scores(5, ties, n_g=400, n_i=3000)
    y, score = _sk(g, m)
    fpr, tpr, _ = sk_roc_curve(y, score, drop_intermediate=False)
    expected = tpr[fpr <= far + 1e-15].max()
    assert tar_at_far(g, m, fars=(far,))[far] == pytest.approx(expected)
    point = far_operating_point(g, m, far)
    s = SortedScores(g, m)
    assert s.far(point.threshold) <= far + 1e-12  # the threshold honours the FAR budget
    assert s.tar(point.threshold) == pytest.approx(point.value)


def _brute_accuracy(g, m, balanced):
    thr = np.r_[-np.inf, np.unique(np.r_[g, m])]
    tar = (g[None] <= thr[:, None]).mean(1)
    far = (m[None] <= thr[:, None]).mean(1)
    if balanced:
        return (0.5 * (tar + 1 - far)).max()
    return ((g[None] <= thr[:, None]).sum(1) + (m[None] > thr[:, None]).sum(1)).max() / (
        g.size + m.size
    )


@pytest.mark.parametrize("balanced", [True, False])
@pytest.mark.parametrize("ties", [False, True])
def test_best_accuracy_matches_brute_force(balanced, ties):
    g, m = _scores(7, ties)
    point = best_accuracy(g, m, balanced=balanced)
    assert point.value == pytest.approx(_brute_accuracy(g, m, balanced))
    s = SortedScores(g, m)
    tar, far = float(s.tar(point.threshold)), float(s.far(point.threshold))
    got = (
        0.5 * (tar + 1 - far)
        if balanced
        else (tar * g.size + (1 - far) * m.size) / (g.size + m.size)
    )
    assert got == pytest.approx(point.value)


def test_best_accuracy_can_reject_everything():
    point = best_accuracy([0.9, 0.95], [0.1, 0.2, 0.3], balanced=False)
    assert point.value == pytest.approx(3 / 5)
    assert point.threshold < 0.1


def test_sampled_curve_points_lie_on_the_full_curve():
    g, m = _scores(1, False, n_g=5000, n_i=20000)
    small = roc_curve(g, m, max_points=200)
    assert small.far.size <= 260
    s = SortedScores(g, m)
    np.testing.assert_allclose(small.far, s.far(small.thresholds))
    np.testing.assert_allclose(small.tar, s.tar(small.thresholds))
    assert np.all(np.diff(small.far) >= 0) and np.all(np.diff(small.tar) >= 0)
    assert small.far[0] == 0 and small.far[-1] == 1 and small.tar[-1] == 1
    assert small.far[1] <= 1 / m.size  # dense at the low-FAR end for DET plots


@pytest.mark.parametrize(
    ("g", "m", "err"),
    [
        ([], [0.1], ValueError),
        ([0.1], [], ValueError),
        ([0.1, np.nan], [0.2], ValueError),
        ([[0.1]], [0.2], ValueError),
        (["a"], [0.2], TypeError),
    ],
)
def test_bad_scores_raise_clear_errors(g, m, err):
    with pytest.raises(err):
        roc_auc(g, m)


def test_far_must_be_a_rate():
    with pytest.raises(ValueError, match="far"):
        far_operating_point([0.1], [0.2], 1.5)
