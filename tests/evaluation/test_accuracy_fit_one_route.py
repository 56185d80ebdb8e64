"""One best-accuracy fit: ``siamkit evaluate``'s ``best_threshold`` (in memory and streamed)
and ``siamkit calibrate --target accuracy`` were two routes and disagreed on the same
distances: evaluate took the best genuine distance less ROUNDING (no room for a reader), and
calibrate counted only candidates built on one pair each, so a plateau narrower than
2 x ROUNDING never got one and it saved up to a pair or two less than a threshold every reader
agrees on (s54_RR4 finding A: 148 of 938 adversarial fits; s54_R1: 22 of 200 realistic ones).
Now both save the best accuracy over the plateaus wide enough for a reader 4 float32 steps off
(12 steps, or 2 x ROUNDING), at the middle of the plateau where that is narrower than
2 x ROUNDING. References: a loop over thresholds around every distance (each pair judged by
``accepts``), and readers that compute every distance up to 4 float32 steps off."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import siamkit.evaluation._common as common
from siamkit.decision import accepts
from siamkit.evaluation.pairs import pair_distances
from siamkit.evaluation.roc import best_accuracy_as_decided
from siamkit.evaluation.streamed import StreamedPairs
from siamkit.evaluation.threshold import ThresholdCalibrator, calibrate_threshold
from siamkit.evaluation.verification import streamed_verification_report, verification_report

ROUNDING = 1e-5  # siamkit.decision.ROUNDING, written out for an independent reference


def _accuracy(g: np.ndarray, i: np.ndarray, t: float) -> float:
    """Balanced accuracy at ``t``, one pair at a time by the rule."""
    ta = sum(bool(accepts(float(d), t)) for d in g)
    tr = sum(not accepts(float(d), t) for d in i)
    return (ta / len(g) + tr / len(i)) / 2


def _naive_best(g: np.ndarray, i: np.ndarray, signed: bool) -> float:
    """The best over thresholds at, and 3 float64 and float32 steps around, every distance and
    every distance less ROUNDING, 0, and one under them all; distances (not signed) only at or
    above 0, or accepting nothing."""
    cands = [0.0]
    for x in np.concatenate([g, i]).astype(np.float64):
        for c in (x, x - ROUNDING):
            for kind in (np.float64, np.float32):
                lo = hi = kind(c)
                cands.append(float(lo))
                for _ in range(3):
                    lo, hi = np.nextafter(lo, kind(-np.inf)), np.nextafter(hi, kind(np.inf))
                    cands += [float(lo), float(hi)]
    if not signed:
        cands = [t for t in cands if t >= 0]
    cands.append(float(min(g.min(), i.min())) - 1.0)
    t = np.array(cands)[None, :]  # the rule on every pair at every threshold at once
    g64, i64 = np.float64(g)[:, None], np.float64(i)[:, None]
    return float(((g64 <= t + ROUNDING).mean(0) + 1 - (i64 <= t + ROUNDING).mean(0)).max() / 2)


def _moved(x: np.ndarray, steps: int) -> np.ndarray:
    """``x`` as float32, each moved ``steps`` float32 steps (up for > 0)."""
    y = np.float32(x)
    for _ in range(abs(steps)):
        y = np.nextafter(y, np.float32(np.inf if steps > 0 else -np.inf))
    return y


def _readers(g: np.ndarray, i: np.ndarray, t: float, steps: int) -> list[float]:
    """The accuracy of the two readers furthest off: genuine pairs computed ``steps`` float32
    steps higher and impostors lower, and the other way round, each with the threshold held as
    a float64 and as a float32 (the rule is monotone, so every reader in between lies
    between)."""
    got = []
    for sign in (1, -1):
        gm, im = _moved(g, sign * steps), _moved(i, -sign * steps)
        for th in (t, float(np.float32(t))):
            got.append((np.mean(accepts(gm, th)) + 1 - np.mean(accepts(im, th))) / 2)
    return got


def _cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Small fits on the rule's edge: impostors 0 to 2.5 x ROUNDING (give or take a few float32
    steps) above genuine pairs, ties, values near 0, and the reviewers' cases."""
    cases = [
        (np.float32([0.7443411350250244]), np.float32([0.744351089, 0.7443511486, 0.74435115, 0.74435103, 0.74435091])),
        (np.float64([1.0]), np.float64([1.00001])),
        (np.float64([1e-5]), np.float64([1.5e-5])),
        (np.float32([0.1, 0.2, 0.7]), np.float32([0.200005, 0.5, 0.9])),
        (np.float64([5e-6]), np.float64([2e-5, 1e-5, 2.5e-5, 1e-5])),
    ]  # fmt: skip
    for trial in range(120):
        base = rng.choice([0.0, 3e-6, 0.05, 0.3, 1.0], 3)
        offsets = rng.choice([0.0, 3e-6, 5e-6, 1e-5, 1.3e-5, 1.8e-5, 2e-5, 2.5e-5, 1e-3], (3, 4))
        v = np.float32(np.clip(base[:, None] + offsets, 0.0, 2.0).ravel())
        v = _moved(v, 0) + rng.integers(-3, 4, v.size) * np.spacing(v)
        is_g = rng.random(v.size) < 0.5
        if is_g.all() or not is_g.any():
            continue
        g, i = np.float32(v[is_g]), np.float32(v[~is_g])
        cases.append((g, i) if trial % 3 else (g.astype(np.float64), i.astype(np.float64)))
    return cases


@pytest.mark.parametrize("signed", [False, True])
def test_the_fit_saves_an_accuracy_every_reader_gets(
    signed: bool,
) -> None:
    rng = np.random.default_rng(55)
    for n, (g, i) in enumerate(_cases(rng)):
        point = best_accuracy_as_decided(g, i, signed=signed)
        # what the rule counts at the saved threshold, and no threshold counts more
        assert point.value == pytest.approx(_accuracy(g, i, point.threshold), abs=1e-12), n
        assert point.value <= _naive_best(g, i, signed) + 1e-12, n
        if not signed and point.value > 0.5:  # a distance model's threshold accepting pairs
            assert point.threshold >= 0, n
        # every reader up to 4 float32 steps off gets the saved value (but at a distances
        # fit's 0, which can keep no more room)
        if signed or point.threshold != 0.0:
            got = _readers(g, i, point.threshold, 4)
            assert got == pytest.approx([point.value] * 4, abs=1e-12), n
    # the reviewers' cases: the best that every reader gets (s54_RR4 case 462: 0.7 saved)
    best = [1.0, 1.0, 1.0, 5 / 6, 1.0 if signed else 0.75]
    got = [best_accuracy_as_decided(g, i, signed=signed).value for g, i in _cases(rng)[:5]]
    assert got == pytest.approx(best)
    # the calibrator is this fit
    for g, i in _cases(np.random.default_rng(56))[:40]:
        cal = ThresholdCalibrator("accuracy", signed=signed).fit(g, i)
        point = best_accuracy_as_decided(g, i, signed=signed)
        assert (cal.threshold_, cal.score_) == (point.threshold, point.value)


def _embeddings(rng: np.random.Generator, n: int) -> tuple[torch.Tensor, np.ndarray]:
    """1-D points on a coarse grid (tied distances) and a few float32 steps or 0.3 to 2 x
    ROUNDING off it (plateaus narrower than 2 x ROUNDING), of 4 classes."""
    x = rng.integers(0, 12, n) * 0.05
    jitter = rng.choice([0.0, 0.0, 3e-6, 7e-6, 1.3e-5, 2e-5], n)
    x = np.float32(x + jitter) + rng.integers(-2, 3, n) * np.spacing(np.float32(x + jitter))
    y = (np.arange(n) * 7 + (x > 0.3)) % 4
    return torch.tensor(np.float32(x)[:, None]), y


def test_evaluate_streamed_evaluate_and_calibrate_are_one_fit(monkeypatch) -> None:
    """The same pairs give the same best-accuracy threshold and accuracy through evaluate in
    memory, evaluate streamed (blocks of 60 distances, so a plateau's next impostor often lies
    in another block than its genuine pair) and calibrate, and every reader gets it."""
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 60)
    rng = np.random.default_rng(5)
    for trial in range(12):
        z, y = _embeddings(rng, 30 + trial)
        pd = pair_distances(z, y, "euclidean")
        memory = verification_report(pd.genuine, pd.impostor)
        streamed = streamed_verification_report(StreamedPairs(z, y, "euclidean"))
        cal = ThresholdCalibrator("accuracy").fit(pd.genuine, pd.impostor)
        want = (cal.threshold_, cal.score_)
        assert (memory.best_threshold, memory.best_accuracy) == want, trial
        assert (streamed.best_threshold, streamed.best_accuracy) == want, trial
        assert calibrate_threshold(z, y, target="accuracy") == cal.threshold_, trial
        assert cal.score_ <= _naive_best(pd.genuine, pd.impostor, signed=False) + 1e-12
        assert _accuracy(pd.genuine, pd.impostor, cal.threshold_) == pytest.approx(cal.score_)
        got = _readers(pd.genuine, pd.impostor, cal.threshold_, 4)
        assert got == pytest.approx([cal.score_] * 4, abs=1e-12), trial
