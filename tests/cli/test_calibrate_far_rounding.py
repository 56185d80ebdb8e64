"""calibrate's fit (cli.calibrate_cmd._fit) as the model decides with it: d <= t + room(t).

Its saved TAR and FAR count the pairs the model accepts (they counted d <= t strictly: FAR 0.0
saved for a threshold the model then accepted an impostor pair 5e-6 above); the far fit's
refusal fires for the impostor pairs no threshold >= 0 rejects, those at ROUNDING or less (it
fired from 2 x ROUNDING: an impostor at 1.5e-5, rejected at a threshold of 0, was called 'at
distance 0'); and the far fit never accepts more impostor pairs than --far allows, which is why
the check that refused such a fit (a safety net behind the calibrator) is gone.
"""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.cli.calibrate_cmd import _fit
from siamkit.decision import room
from siamkit.evaluation.roc import far_operating_point


def _accepted(d: float, t: float) -> bool:
    """The rule in float64 (siamkit verify), in float32 (a float32 threshold and distance), and
    for a float32 distance against a float threshold (compared in float32). The room is
    siamkit.decision's (ROUNDING at every threshold here, all within 0 to 2), so this follows
    the rule if it changes."""
    f32 = np.float32
    t64, t32 = float(t), f32(t)
    return (
        float(d) <= t64 + room(t64)
        or bool(f32(d) <= f32(t32 + room(t32)))
        or bool(f32(d) <= f32(t64 + room(t64)))
    )


def _naive_allowed(far: float, n: int) -> int:
    """The most false accepts of n a rate of at most far allows, by counting."""
    return max(k for k in range(n + 1) if k / n <= far)


def test_the_saved_tar_and_far_count_what_the_model_accepts() -> None:
    genuine = np.float32([0.1, 0.2, 0.7])
    impostor = np.float32([0.200005, 0.5, 0.9])  # 5e-6 above the genuine 0.2
    info = _fit(genuine, impostor, "accuracy", 0.0, {})
    t = info["threshold"]
    # the accuracy fit took 0.2 (FAR 1/3 as decided), then kept 0.2 and rejected 0.200005 on
    # the rule's edge; 5e-6 apart is ~330 float32 steps, so every reader a few steps off tells
    # them apart at their middle, where each keeps 2.5e-6 of room
    assert t + room(t) == pytest.approx((0.2 + 0.200005) / 2, abs=1e-7)
    assert info["far"] == sum(float(d) <= t + room(t) for d in impostor) / 3 == 0.0
    assert info["tar"] == sum(float(d) <= t + room(t) for d in genuine) / 3 == 2 / 3
    # a far fit keeps the genuine pair 4e-6 under the bound it leaves (ROUNDING under the
    # impostor it rejects, room for the readers' own distance), and counts it
    info = _fit(np.float32([0.1, 0.299986, 0.8]), np.float32([0.3, 0.9]), "far", 0.0, {})
    assert info["tar"] == 2 / 3 and info["far"] == 0.0
    assert float(np.float32(0.299986)) <= info["threshold"] + room(info["threshold"])
    assert not _accepted(0.3 - room(0.3), info["threshold"])


def test_an_impostor_rejected_at_threshold_0_is_no_refusal() -> None:
    """1.5e-5 and 1.1e-5 lie above 0 + ROUNDING: a threshold just above 0 rejects them."""
    genuine = np.float32([1e-6, 0.1, 0.2])
    for m in (1.5e-5, 1.1e-5, 1.9e-5):
        impostor = np.float32([m, 0.8, 0.9])
        info = _fit(genuine, impostor, "far", 0.0, {})
        assert info["threshold"] >= 0 and info["far"] == 0.0
        assert not _accepted(impostor[0], info["threshold"])
        assert info["tar"] == 1 / 3  # the genuine pair at 1e-6, within ROUNDING of it


@pytest.mark.parametrize(
    ("near", "second", "said"),
    [
        (0.0, 0.5, "at distance 0"),
        (1e-5, 0.5, "at distance 1e-05 or less"),
        (4e-6, 0.5, "at distance 1e-05"),
        # one within ROUNDING of 0 and one in (ROUNDING, 2 x ROUNDING), which threshold 0
        # rejects: the count is 1, not 2 (a refusal from 2 x ROUNDING said 2, --far 0.5)
        (5e-6, 1.5e-5, "at distance 1e-05 or less"),
    ],
)
def test_an_impostor_at_rounding_or_less_is_refused_by_name(
    near: float, second: float, said: str
) -> None:
    genuine, impostor = np.float32([0.1, 0.2]), np.float32([near, second, 0.7, 0.9])
    # the reference: every threshold >= 0 (0, each distance) accepts it, and 0 rejects the rest
    assert all(_accepted(near, t) for t in (0.0, *genuine, *impostor))
    assert not any(_accepted(d, 0.0) for d in impostor[1:])
    with pytest.raises(ValueError) as err:
        _fit(genuine, impostor, "far", 0.0, {})
    message = str(err.value)
    assert f"1 of the 4 impostor pairs is {said}" in message
    assert message.endswith("or allow it with --far 0.25 or more")
    assert ("float32 rounding" in message) == (near > 0)
    assert _fit(genuine, impostor, "far", 0.25, {})["far"] == 0.25  # the --far it offers fits


def test_the_far_fit_never_accepts_more_impostors_than_far_allows() -> None:
    """The invariant that makes the old check unreachable: every far fit whose threshold is
    >= 0 accepts, in float32 and float64, at most the impostor pairs --far allows, on data built
    to sit on the rule's edge (genuine and impostor pairs ROUNDING and float32 steps apart)."""
    rng = np.random.default_rng(0)
    offsets = np.array([0.0, 1e-7, 5e-6, 1e-5, 1.00001e-5, 1.2e-5, 2e-5, 3e-5])
    fits = lowered = 0
    for trial in range(300):
        base = rng.choice([1e-5, 2e-5, 0.05, 0.3, 0.5, 1.0, 1.4142135, 2.0], 6)
        ladder = base[:, None] + rng.choice([-1, 1], (6, 8)) * offsets
        values = np.clip(ladder.ravel(), 0.0, 2.0)
        steps = rng.integers(-3, 4, values.size)  # and float32 steps off them
        values = np.float32(
            [
                float(np.float32(v)) + s * np.spacing(np.float32(v))
                for v, s in zip(values, steps, strict=True)
            ]
        )
        is_impostor = rng.random(values.size) < 0.5
        genuine, impostor = values[~is_impostor], values[is_impostor]
        if trial % 2:
            genuine, impostor = genuine.astype(np.float64), impostor.astype(np.float64)
        if genuine.size == 0 or impostor.size == 0:
            continue
        for far in (0.0, 0.01, 1 / impostor.size, 0.2, 0.5):
            try:
                info = _fit(genuine, impostor, "far", far, {})
            except ValueError as e:  # only an impostor no threshold >= 0 rejects
                assert sum(_accepted(d, 0.0) for d in impostor) > _naive_allowed(
                    far, impostor.size
                ), e
                continue
            fits += 1
            t = info["threshold"]
            lowered += t < far_operating_point(genuine, impostor, far).threshold
            assert t >= 0
            accepted = sum(_accepted(d, t) for d in impostor)
            assert accepted <= _naive_allowed(far, impostor.size), (trial, far)
            assert info["far"] <= far
    assert fits > 600 and lowered > 200  # the case: fits saved, many of them on the edge
