"""roc.window_centres puts the accuracy fit's threshold ``t`` where its edge ``t + room(t)`` lies
at the middle of the window ``(v, bound]``, so that ``v`` and the impostors above the bound keep
half the window of room; the pairs within READER_STEPS + 1 float32 steps of that edge are counted
as decided. Against a naive reference: walk the float32 numbers to the one whose edge is nearest
the middle, and the steps about its edge by ``np.nextafter``. Changing the room term
(``mid - room(mid)`` to ``mid - 1e-5``, as stop 58's review tried) was caught by no test: the
room is ROUNDING (1e-5) up to 5.24, so only windows at larger distances tell them apart."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.decision import room
from siamkit.evaluation.roc import READER_STEPS, window_centres, worst_case_bounds

f32 = np.float32


def _edge(t: np.float32) -> float:
    """The rule's edge at the float32 threshold ``t``: ``t + room(t)``, in float64."""
    return float(t) + room(float(t))


def _nearest_edge_threshold(mid: float) -> float:
    """The float32 ``t`` whose edge ``t + room(t)`` (float64) lies nearest ``mid``, found by
    stepping float32 numbers: from a start near it (float32 of ``mid - room(mid)``), down
    while its edge is above ``mid``, up while the next one's is not, then the nearer of the two
    (a start anywhere gives the same ``t``, only more steps)."""
    t = f32(mid - room(mid))
    while _edge(t) > mid:
        t = np.nextafter(t, f32(-np.inf))
    while _edge(np.nextafter(t, f32(np.inf))) <= mid:
        t = np.nextafter(t, f32(np.inf))
    up = np.nextafter(t, f32(np.inf))
    return float(t) if mid - _edge(t) <= _edge(up) - mid else float(up)


def _steps(x: float, k: int, direction: float) -> float:
    """``x`` moved ``k`` float32 steps towards ``direction``: steps of float32(|x|), each the
    gap to the next float32 above it."""
    a = f32(abs(x))
    step = float(np.nextafter(a, f32(np.inf))) - float(a)
    return x + np.sign(direction) * k * step


def _reference_t(v: float, bound: float, signed: bool) -> float:
    t = _nearest_edge_threshold((v + bound) / 2)
    return t if signed else max(t, 0.0)


def _reference_edges(t: float, v: float, bound: float) -> tuple[float, float]:
    """The genuine and impostor edges at the threshold ``t``: READER_STEPS + 1 float32 steps
    of ``t + room(t)`` either side, held to ``v`` and the bound."""
    edge = t + room(t)
    k = READER_STEPS + 1
    return max(v, _steps(edge, k, -1)), min(bound, _steps(edge, k, +1))


DISTANCES = [0.0, 2e-6, 1e-3, 0.3, 1.0, 2.0, 5.0, 5.3, 7.25, 16.0, 50.0, 123.4, 300.0, 1e3, 12345.6]
SIGNED = [-400.0, -50.0, -7.0, -0.5, 0.0, 0.5, 7.0, 50.0, 400.0]


@pytest.mark.parametrize(
    "signed, values", [(False, DISTANCES), (True, SIGNED)], ids=["distances", "signed"]
)
def test_window_centres_put_the_edge_at_the_windows_middle(signed, values):
    v = np.array(values, dtype=np.float32).astype(np.float64)  # distances are float32
    bounds = worst_case_bounds(v, signed)
    t, g_edge, i_edge = window_centres(v, signed)
    for j, x in enumerate(v):
        rt = _reference_t(float(x), float(bounds[j]), signed)
        step = float(np.spacing(f32(max(abs(rt), 1e-30))))
        said = f"v={x!r}: t={t[j]!r}, reference {rt!r} (a float32 step: {step:.3g})"
        assert float(t[j]) == np.float32(t[j]), said  # a float32 threshold
        assert abs(float(t[j]) - rt) <= step, said  # within a step: rounding of mid - room(mid)
        # The edges at the t it chose, to within half a float32 step of its edge (in effect
        # exactly), so READER_STEPS steps or READER_STEPS + 2 is caught, not just 0 or 1.
        rg, ri = _reference_edges(float(t[j]), float(x), float(bounds[j]))
        e_step = float(np.spacing(f32(abs(float(t[j]) + room(float(t[j]))))))
        assert abs(float(g_edge[j]) - rg) <= e_step / 2, f"genuine edge {g_edge[j]!r} vs {rg!r}"
        assert abs(float(i_edge[j]) - ri) <= e_step / 2, f"impostor edge {i_edge[j]!r} vs {ri!r}"
        if rt > 0 or signed:  # not held at 0: v and the bound keep half the window each
            edge, half = float(t[j]) + room(float(t[j])), (float(bounds[j]) - float(x)) / 2
            assert abs((edge - x) - half) <= step and abs((bounds[j] - edge) - half) <= step, said
