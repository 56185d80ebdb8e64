"""roc.largest_rejecting is the one search for "the largest threshold at which the rule rejects
a distance": a far fit's float32 bound under every reader (threshold.highest_rejecting, which
had its own float32 keys and a scalar loop) and a curve's float64 bound (decided_threshold)
are the two guarantees of one bisection. Each is checked here one distance at a time against
the rule written out in plain Python and NumPy scalars: the answer is rejected, and the next
float of its kind up is not, so it is the largest; over random distances at 0, around 1e-5, 1
and 2, negative scores and float32's far ends, given as float32 and as float64."""

from __future__ import annotations

import math

import numpy as np
import pytest

from siamkit.decision import accepts
from siamkit.evaluation.roc import largest_rejecting
from siamkit.evaluation.threshold import highest_rejecting

ROUNDING = 1e-5  # siamkit.decision.ROUNDING, written out for an independent reference


def _room(t: float) -> float:
    """siamkit.decision.room written out: 1e-5, or 16 float32 steps' worth of ``|t|`` (2**-19
    of it) beyond 5.24, in float64."""
    return max(ROUNDING, abs(t) / 2**19)


def _room32(t: np.float32) -> np.float32:
    """The same room in float32 arithmetic, as a float32 reader holds the threshold."""
    return max(np.float32(ROUNDING), np.float32(abs(t)) / np.float32(2**19))


def _distances() -> np.ndarray:
    rng = np.random.default_rng(54)
    return np.concatenate(
        [
            [0.0, -0.0, 1e-5, -1e-5, 2e-5, 5e-6, 1e-40, -1e-40, 1.0, 2.0, -2.0, 3.4e38, -3.4e38],
            rng.uniform(-3e-5, 3e-5, 300),
            1e-5 + rng.integers(-40, 40, 100) * np.spacing(1e-5),
            rng.uniform(0.999, 1.001, 200),
            rng.uniform(1.999, 2.0, 200),
            rng.uniform(-2.0, 0.0, 200),
            10.0 ** rng.uniform(-40, 6, 200),
        ]
    )


def _every_reader_rejects(d: float, t: np.float32) -> bool:
    """The rule by each reader, distance and threshold each as float32 or float64."""
    d32, t64 = np.float32(d), float(t)
    with np.errstate(over="ignore"):
        r32 = _room32(t)
        return not (
            d <= t64 + _room(t64)
            or bool(d32 <= t + r32)
            or bool(d32 <= np.float32(t64 + _room(t64)))
            or d <= float(t + r32)
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_float64_answer_is_the_largest_float64_the_rule_rejects_at(dtype: type) -> None:
    d = _distances().astype(dtype)
    d = d[np.isfinite(d)]
    t = largest_rejecting(d)
    assert t.dtype == np.float64
    for x, ti in zip(d, t, strict=True):
        above = math.nextafter(float(ti), math.inf)
        assert not accepts(x, float(ti)) and accepts(x, above), x  # as siamkit decides
        assert not accepts(np.array([x]), float(ti))[0] and accepts(np.array([x]), above)[0]
        assert float(ti) + _room(float(ti)) < float(x) <= above + _room(above), x  # written out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_every_reader_answer_is_the_largest_float32_no_reader_accepts_at(dtype: type) -> None:
    d = _distances().astype(dtype)
    t = largest_rejecting(d, every_reader=True)
    for x, ti in zip(d, t, strict=True):
        t32 = np.float32(ti)
        assert float(t32) == ti, x  # a float32 number, stored as float64 unchanged
        assert _every_reader_rejects(float(x), t32), x
        assert not _every_reader_rejects(float(x), np.nextafter(t32, np.float32(np.inf))), x
        assert highest_rejecting(float(x)) == ti, x  # the far fit's helper is this search


def test_every_reader_is_at_or_under_the_float64_answer() -> None:
    """The float64 reader is one of every reader, so its bound is never the lower one."""
    d = _distances()
    assert np.all(largest_rejecting(d, every_reader=True) <= largest_rejecting(d))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_distance_that_is_not_finite_is_refused_by_both(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        largest_rejecting(np.array([0.5, bad]))
    with pytest.raises(ValueError, match="no float32 threshold rejects a distance of"):
        largest_rejecting(np.array([0.5, bad]), every_reader=True)
