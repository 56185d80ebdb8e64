"""The accuracy fit's threshold keeps room for both pairs on its edges (s54_R1 finding 1): a
genuine distance taken as the threshold left an impostor a float32 step or two above the rule's
edge (then ``d <= t + ROUNDING``), which a reader computing it a few float32 steps lower
accepted, a false accept the saved FAR and accuracy did not count. The fit
(roc.best_accuracy_as_decided) keeps a genuine distance ``v`` as the threshold only where every
reader still rejects the nearest impostor above ``v``'s window taken its room lower
(roc.rejecting_with_room); else the threshold moves to the middle of that plateau: the middle
of ``v`` and the impostor, less the middle's room, as float32 (roc.worst_case_threshold), so
both keep half the gap, counting the same pairs. These cases take both ways; none has an
impostor within ``v``'s window (roc.worst_case_bounds), where the threshold would go to the
window's centre instead (roc.window_centres).

The reference is written out here: a fine grid of thresholds (float32 steps around each
distance's edge, and the middles between them), at each the pairs every reader gets right, a
reader holding the threshold as float64 or float32, deciding in either arithmetic, and
computing each distance up to roc.READER_STEPS (4) float32 steps off. The rule's room is
siamkit.decision's (``room(t)``: ROUNDING for ``|t|`` up to 5.24, ROOM_SCALE x ``|t|`` above
it, as in the [room-grows-with-t] case), so the reference follows the rule if it changes."""

import numpy as np
import pytest

from siamkit.decision import room
from siamkit.evaluation.roc import READER_STEPS
from siamkit.evaluation.threshold import ThresholdCalibrator

f32 = np.float32


def _moved(d: np.ndarray, k: int = READER_STEPS) -> np.ndarray:
    """``(n, 2k + 2)``: each distance as float64 and its float32 moved -k..k float32 steps."""
    x = d.astype(f32)
    cols, up, dn = [d.astype(np.float64), x.astype(np.float64)], x.copy(), x.copy()
    for _ in range(k):
        up, dn = np.nextafter(up, f32(np.inf)), np.nextafter(dn, f32(-np.inf))
        cols += [up.astype(np.float64), dn.astype(np.float64)]
    return np.stack(cols, 1)


def _accepted(d: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(T, n, P, 4)``: each reader's verdict on each moved distance ``d (n, P)`` at ``t``."""
    t = t[:, None, None]
    t32, d32 = t.astype(f32), d.astype(f32)[None]
    return np.stack(
        [
            d[None] <= t + room(t),
            d32 <= t32 + room(t32),
            d32 <= (t + room(t)).astype(f32),
            d[None] <= (t32 + room(t32)).astype(np.float64),
        ],
        -1,
    )


def _readers(g: np.ndarray, i: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Balanced accuracy numerators (x 2 G I) that every reader gets at each threshold."""
    mg, mi = _moved(g), _moved(i)
    ok_g = np.ones((t.size, g.size), bool)
    ok_i = np.ones((t.size, i.size), bool)
    for tt in (t, t.astype(f32).astype(np.float64)):
        ok_g &= _accepted(mg, tt).all((2, 3))
        ok_i &= ~_accepted(mi, tt).any((2, 3))
    return ok_g.sum(1) * i.size + ok_i.sum(1) * g.size


def _grid(d: np.ndarray) -> np.ndarray:
    c = [d.min() - 1.0]
    for x in d.astype(np.float64):
        for base in (x - room(x), x, x - 2 * room(x)):
            lo = hi = f32(base)
            c.append(float(lo))
            for _ in range(12):
                lo, hi = np.nextafter(lo, f32(-np.inf)), np.nextafter(hi, f32(np.inf))
                c += [float(lo), float(hi)]
    s = np.unique(d.astype(np.float64) - room(d.astype(np.float64)))
    c += list((s[1:] + s[:-1]) / 2)
    return np.unique(np.array(c, np.float64))


def _check(g: np.ndarray, i: np.ndarray) -> None:
    cal = ThresholdCalibrator("accuracy").fit(g, i)
    t = cal.threshold_
    g64, i64 = g.astype(np.float64), i.astype(np.float64)
    rule = ((g64 <= t + room(t)).mean() + 1 - (i64 <= t + room(t)).mean()) / 2  # accepts
    assert abs(rule - cal.score_) < 1e-12
    den = 2 * g.size * i.size
    every_reader = _readers(g, i, np.array([t]))[0] / den
    best_every_reader = _readers(g, i, _grid(np.concatenate([g, i]))).max() / den
    assert every_reader == cal.score_ == best_every_reader


def test_an_impostor_two_float32_steps_above_the_edge_of_a_genuine_threshold():
    g = f32([0.1, 0.5])
    imp = f32(0.5 + room(0.5))
    while float(imp) <= 0.5 + room(0.5):
        imp = np.nextafter(imp, f32(1))
    _check(g, np.array([np.nextafter(imp, f32(1)), 0.9], f32))


@pytest.mark.parametrize(
    ("genuine", "far", "trials"),
    [((0.05, 1.5), (0.4, 2.0), 30), ((50.0, 400.0), (100.0, 500.0), 10)],
    ids=["room-is-rounding", "room-grows-with-t"],  # |t| over 5.24: room(t) = ROOM_SCALE * |t|
)
def test_near_impostors_just_above_a_genuine_distance_plus_the_rules_room(
    genuine: tuple[float, float], far: tuple[float, float], trials: int
) -> None:
    rng = np.random.default_rng(7)
    for _ in range(trials):
        g = f32(rng.uniform(*genuine, 12))
        near = g[rng.choice(g.size, 4, replace=False)].astype(np.float64)
        edge = f32(near + room(near))
        up = f32(np.inf)
        edge = np.where(edge.astype(np.float64) <= near + room(near), np.nextafter(edge, up), edge)
        for _ in range(rng.integers(0, 3)):  # 1 to 3 float32 steps above the rule's edge
            edge = np.nextafter(edge, up)
        _check(g, f32(np.concatenate([edge, rng.uniform(*far, 12)])))
