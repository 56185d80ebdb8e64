"""TAR@FAR's point never has a false accept rate above the one asked for: the count of
impostors it may accept is the largest ``k`` with ``k / n <= far``, checked against the rate
(``far * n`` rounds either way), in memory, streamed and in the threshold calibrator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.evaluation import (
    ThresholdCalibrator,
    all_pair_distances,
    far_operating_point,
    tar_at_far,
)
from siamkit.evaluation.roc import false_accepts_allowed
from siamkit.evaluation.streamed import StreamedPairs


def _naive_tar(genuine, impostor, far):
    """Max TAR over every threshold (each observed distance, and -inf) whose FAR is <= far."""
    best = 0.0
    for t in np.r_[-np.inf, genuine, impostor]:
        if np.mean(impostor <= t) <= far:
            best = max(best, float(np.mean(genuine <= t)))
    return best


def test_allowed_count_is_the_largest_within_the_rate():
    rng = np.random.default_rng(0)
    cases = [(0.29, 100), (0.07, 100), (0.1, 30), (0.3333333, 3), (0.2499999, 4), (1e-3, 999)]
    cases += [(float(rng.random()), int(rng.integers(1, 10**6))) for _ in range(300)]
    cases += [(j / n, n) for n in (3, 7, 100, 999_999) for j in (0, 1, n // 3, n - 1, n)]
    for far, n in cases:
        k = false_accepts_allowed(far, n)
        assert k / n <= far, (far, n, k)  # the point's FAR, as it is reported: never above
        assert k == n or (k + 1) / n > far, (far, n, k)  # and the most that fit


@pytest.mark.parametrize("far", [0.2499999, 0.25, 0.29, 0.5 - 1e-7])
def test_point_far_is_at_most_the_asked_one(far):
    # 1-D items: classes 0 and 1 of two items each give 2 genuine and 4 impostor pairs
    z = torch.tensor([[0.0], [0.5], [1.25], [2.0]], dtype=torch.float64)
    y = [0, 0, 1, 1]
    genuine, impostor = all_pair_distances(z, y)
    streamed = StreamedPairs(z, y)
    assert (streamed.n_genuine, streamed.n_impostor) == (2, 4)
    for point in (far_operating_point(genuine, impostor, far), streamed.far_operating_point(far)):
        assert np.mean(impostor <= point.threshold) <= far
        assert (
            point.value == np.mean(genuine <= point.threshold) == _naive_tar(genuine, impostor, far)
        )
    assert tar_at_far(genuine, impostor, fars=(far,))[far] == _naive_tar(genuine, impostor, far)
    cal = ThresholdCalibrator("far", far=far).fit(genuine, impostor)
    assert np.mean(cal.predict(impostor)) <= far
