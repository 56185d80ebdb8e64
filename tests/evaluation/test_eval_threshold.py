"""Threshold calibration: each target reaches what it promises on the fitting pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.evaluation import ThresholdCalibrator, all_pair_distances, calibrate_threshold


def _pairs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0.6, 0.2, 2000), rng.normal(1.2, 0.25, 8000)


def test_eer_target_balances_far_and_frr():
    g, m = _pairs()
    cal = ThresholdCalibrator("eer").fit(g, m)
    far, frr = (m <= cal.threshold_).mean(), (g > cal.threshold_).mean()
    assert abs(far - frr) < 2e-3
    assert cal.score_ == pytest.approx((far + frr) / 2, abs=2e-3)


def test_far_target_respects_the_budget_and_is_tight():
    g, m = _pairs(1)
    cal = ThresholdCalibrator("far", far=1e-2).fit(g, m)
    assert (m <= cal.threshold_).mean() <= 1e-2
    next_value = np.min(np.r_[g, m][np.r_[g, m] > cal.threshold_])
    assert (m <= next_value).mean() > 1e-2  # one step further breaks the budget
    assert cal.score_ == pytest.approx((g <= cal.threshold_).mean())


def test_accuracy_target_beats_every_other_threshold():
    g, m = _pairs(2)
    cal = ThresholdCalibrator("accuracy").fit(g, m)

    def balanced(t):
        return 0.5 * ((g <= t).mean() + (m > t).mean())

    grid = np.quantile(np.r_[g, m], np.linspace(0, 1, 301))
    assert balanced(cal.threshold_) >= max(balanced(t) for t in grid) - 1e-12
    assert cal.score_ == pytest.approx(balanced(cal.threshold_))


def test_predict_keeps_the_input_type():
    cal = ThresholdCalibrator().fit([0.1, 0.2, 0.3], [0.25, 0.8, 0.9])
    out = cal.predict(torch.tensor([0.1, 0.5]))
    assert isinstance(out, torch.Tensor) and out.tolist() == [True, False]
    assert cal.predict([0.1, 0.5]).tolist() == [True, False]
    assert cal.predict(np.array([cal.threshold_])).tolist() == [True]  # accepted at equality


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_predict_refuses_nan_and_inf_for_tensors_and_arrays(bad):
    """A NaN compares false: a tensor's NaN distance read as a confident "different" where an
    array's was refused (in a sentence that said "distances distances")."""
    cal = ThresholdCalibrator().fit([0.1, 0.2, 0.3], [0.25, 0.8, 0.9])
    for given in (torch.tensor([0.1, bad]), np.array([0.1, bad]), [0.1, bad]):
        with pytest.raises(ValueError, match=r"^the given distances contain NaN or inf; check"):
            cal.predict(given)
    assert cal.predict(torch.tensor([1, 0])).tolist() == [False, True]  # integer tensors too


def test_calibrate_threshold_on_digits_generalises(digits):
    z, y = digits
    val, test = slice(0, 800), slice(800, None)
    t = calibrate_threshold(z[val], y[val], "euclidean", target="eer")
    assert isinstance(t, float)
    pd = all_pair_distances(z[test], y[test])
    far, frr = (pd.impostor <= t).mean(), (pd.genuine > t).mean()
    assert abs(far - frr) < 0.05  # close to the EER on unseen items


def test_calibrate_threshold_with_sampled_pairs_is_close(digits):
    z, y = digits
    full = calibrate_threshold(z[:600], y[:600], "cosine")
    sampled = calibrate_threshold(z[:600], y[:600], "cosine", max_pairs=40_000, seed=3)
    assert sampled == pytest.approx(full, rel=0.05)


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="target"):
        ThresholdCalibrator("f1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="far"):
        ThresholdCalibrator("far", far=2.0)
    with pytest.raises(ValueError, match="not fitted"):
        ThresholdCalibrator().predict(np.array([0.1]))


def test_predict_decides_as_the_model_within_float32_rounding():
    """predict compared d <= t strictly, where every siamkit model (verify, a gallery, the text
    commands) accepts up to ROUNDING (1e-5) above its threshold, and the far fit's score_
    counted so: a genuine pair 5e-7 under the impostor it rejects, kept by the fit (score_ 1.0),
    was predicted "different" (predict's mean 0.5)."""
    # 2e-5 under the impostor: above the threshold, which leaves ROUNDING of room under 0.3
    g, m = np.float32([0.1, 0.29998]), np.float32([0.3, 0.9])
    cal = ThresholdCalibrator("far", far=0.0).fit(g, m)
    t = cal.threshold_
    naive = [float(d) <= t + 1e-5 for d in np.float32([*g, *m, t + 9e-6, t + 1.1e-5])]
    assert naive == [True, True, False, False, True, False]  # the case
    given = np.float32([*g, *m, t + 9e-6, t + 1.1e-5])
    assert cal.predict(given).tolist() == naive
    assert cal.predict(torch.from_numpy(given)).tolist() == naive
    assert cal.score_ == float(np.mean(cal.predict(g))) == 1.0
