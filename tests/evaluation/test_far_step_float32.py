"""A threshold "just below" a distance is a step in the distances' own float32 type: a float64
step below a float32 distance rounds back up to it when compared in float32 (as calibrate
measures its FAR and verify decides), so it accepted the very impostor pair it was below. The
case: the same image under two classes, whose batched distance is 3e-4 or 6e-8 rather than 0."""

from __future__ import annotations

import numpy as np
import torch

from siamkit.encoders import create_encoder
from siamkit.evaluation.pairs import all_pair_distances
from siamkit.evaluation.roc import best_accuracy, far_operating_point
from siamkit.evaluation.streamed import StreamedPairs
from siamkit.evaluation.threshold import ThresholdCalibrator
from siamkit.experiment.protocol import calibrate
from siamkit.index.decision import ROUNDING, accepts
from siamkit.models import SiameseNetwork

# distances the batched pair distances give two identical inputs (euclidean, cosine)
NEAR_ZERO = (np.float32(3.4526698e-4), np.float32(4.8828125e-4), np.float32(5.9604645e-8))


def _naive_far_point(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float:
    """The highest TAR over every float32 threshold (each observed value and the float32 number
    just below it) whose FAR, compared in float32, is at most ``far``."""
    values = np.unique(np.concatenate([genuine, impostor]))
    below = np.nextafter(values, np.float32(-np.inf))
    best = 0.0
    for t in np.concatenate([values, below]).astype(np.float32):
        if np.mean(impostor <= t) <= far:
            best = max(best, float(np.mean(genuine <= t)))
    return best


def _case(rng: np.random.Generator, near: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Float32 distances whose smallest is an impostor pair at ``near`` (not 0), with ties."""
    genuine = rng.choice(np.float32([0.2, 0.5, 0.7, 1.1]), rng.integers(1, 12))
    impostor = np.concatenate([[near], rng.choice(np.float32([0.6, 0.7, 1.4]), 15)])
    return genuine.astype(np.float32), impostor.astype(np.float32)


def test_a_far_fit_rejects_the_impostor_it_steps_below_in_float32() -> None:
    rng = np.random.default_rng(0)
    for near in NEAR_ZERO:
        for _ in range(20):
            g, m = _case(rng, near)
            for far in (0.0, 0.001, 0.05, 0.2):
                point = far_operating_point(g, m, far)
                assert point.threshold >= 0
                assert np.mean(m <= point.threshold) <= far  # in float32, as calibrate compares
                assert np.mean(g <= point.threshold) == point.value == _naive_far_point(g, m, far)
                # the calibrator's threshold, as verify and a gallery decide with it (within
                # decision.ROUNDING): no more false accepts than far allows, below 0 (nothing
                # to save: calibrate refuses, a run saves none) only for an impostor that near 0
                cal = ThresholdCalibrator("far", far=far).fit(g, m)
                assert cal.threshold_ <= point.threshold
                assert np.mean(accepts(m, cal.threshold_)) <= far
                assert cal.score_ == np.mean(accepts(g, cal.threshold_))
                assert (cal.threshold_ < 0) == (far < 1 / len(m) and near <= ROUNDING)


def test_streamed_pairs_step_below_in_float32_too() -> None:
    """StreamedPairs (evaluate's path for many pairs) takes the same step below."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(16, generator=gen)
    z = torch.stack([a, a + 1e-5, a + 3.0, a + 3.1, -a, -a - 0.1])  # a near-duplicate: rows 0, 1
    y = [0, 1, 0, 1, 0, 1]
    pd = all_pair_distances(z, y)
    m = pd.impostor
    assert 0 < m.min() < pd.genuine.min()  # the case: the closest pair is an impostor, not at 0
    point = StreamedPairs(z, y).far_operating_point(0.0)
    assert point.value == 0.0 and point.threshold >= 0
    assert np.mean(m <= point.threshold) == 0.0  # compared in float32
    assert point.threshold == far_operating_point(pd.genuine, m, 0.0).threshold


def test_rejecting_everything_rejects_the_smallest_distance_in_float32() -> None:
    """best_accuracy's 'accept nothing' threshold, below the smallest distance."""
    for near in NEAR_ZERO:
        g, m = np.float32([0.9]), np.float32([near, 0.5])
        point = best_accuracy(g, m, balanced=False)
        assert point.value == 2 / 3
        assert not (m <= point.threshold).any() and not (g <= point.threshold).any()


def test_a_runs_far_threshold_rejects_a_near_duplicate_impostor() -> None:
    """The threshold a training run saves (experiment.protocol.calibrate) for
    eval.threshold_target far: a near-copy across classes (one pixel 40 grey levels off, 7.9e-4
    away; the same image there is at 0 since the float32 matrix takes its close pairs exactly)."""
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4, 8]), 8).eval()
    rng = np.random.default_rng(18)
    same = rng.integers(0, 255, (16, 16)).astype(np.uint8)
    near = same.copy()
    near[0, 0] = (int(near[0, 0]) + 40) % 256
    images = [[same, *(rng.integers(0, 255, (16, 16)).astype(np.uint8) for _ in range(3))]]
    images.append([near, *(rng.integers(0, 255, (16, 16)).astype(np.uint8) for _ in range(3))])
    x = torch.tensor(np.stack(images[0] + images[1]))[:, None] / 255.0
    y = torch.tensor([0] * 4 + [1] * 4)
    with torch.no_grad():
        z = net.embed(x)
    pd = all_pair_distances(z, y, net.scoring_distance)
    assert 0 < pd.impostor.min() < pd.genuine.min()  # the case
    t = calibrate(z, y, net, "far", seed=0)
    assert t >= 0 and np.mean(accepts(pd.impostor, t)) == 0.0  # as verify decides, in float32
    assert np.mean(pd.genuine <= t) == _naive_far_point(pd.genuine, pd.impostor, 0.001)
