"""OTB metrics against hand-computed cases and naive loops."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.tracking.metrics import (
    BoxFault,
    box_faults,
    center_error,
    has_box,
    iou,
    precision_at,
    precision_curve,
    score_tracking,
    success_auc,
    success_curve,
)


def naive_iou(a: list[float], b: list[float]) -> float:
    ax1, ay1, ax2, ay2 = a[0], a[1], a[0] + a[2], a[1] + a[3]
    bx1, by1, bx2, by2 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def test_iou_hand_cases() -> None:
    gt = np.array(
        [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [10, 10, 4, 2], [0, 0, 0, 5]], float
    )
    pr = np.array(
        [[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5], [11, 10, 2, 2], [0, 0, 0, 5]], float
    )
    # identical; half shift: 50 / 150; disjoint; contained: 4 / 8; zero area
    np.testing.assert_allclose(iou(pr, gt), [1.0, 1 / 3, 0.0, 0.5, 0.0])


def test_iou_matches_naive_loop() -> None:
    rng = np.random.default_rng(0)
    a = np.c_[rng.uniform(0, 50, (200, 2)), rng.uniform(1, 30, (200, 2))]
    b = np.c_[rng.uniform(0, 50, (200, 2)), rng.uniform(1, 30, (200, 2))]
    want = [naive_iou(list(x), list(y)) for x, y in zip(a, b)]
    np.testing.assert_allclose(iou(a, b), want)


def test_center_error_hand_case() -> None:
    # centres (5, 5) and (8, 9): 3-4-5 triangle
    np.testing.assert_allclose(center_error([[0, 0, 10, 10]], [[3, 4, 10, 10]]), [5.0])


def test_success_curve_and_auc_by_hand() -> None:
    ious = np.array([0.0, 0.5, 1.0, 0.25])
    curve = success_curve(ious, np.array([0.0, 0.25, 0.5, 0.99]))
    # > 0: 3 of 4; > 0.25: 2; > 0.5: 1; > 0.99: 1
    np.testing.assert_allclose(curve, [0.75, 0.5, 0.25, 0.25])
    # naive AUC over 21 thresholds
    want = np.mean([np.mean([v > t for v in ious]) for t in np.linspace(0, 1, 21)])
    assert success_auc(ious) == pytest.approx(want)


def test_precision_by_hand() -> None:
    errors = np.array([0.0, 19.9, 20.0, 20.1, 100.0])
    assert precision_at(errors, 20) == pytest.approx(3 / 5)
    np.testing.assert_allclose(precision_curve(errors, np.array([0, 20, 50])), [0.2, 0.6, 0.8])


def test_score_tracking_counts_lost_frames_and_fps() -> None:
    gt = np.array([[0, 0, 10, 10]] * 4, float)
    pr = np.array([[0, 0, 10, 10], [100, 100, 10, 10], [5, 0, 10, 10], [50, 0, 5, 5]], float)
    s = score_tracking(pr, gt, seconds=2.0)
    assert s.frames_lost == 2 and s.n_frames == 4 and s.fps == pytest.approx(2.0)
    assert s.precision_20 == pytest.approx(2 / 4)  # errors 0, 134, 5, 47.6
    assert s.success.shape == (21,) and s.precision.shape == (51,)


def test_bad_shapes_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        iou(np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="as many"):
        iou(np.zeros((3, 4)), np.zeros((2, 4)))


def test_frames_without_ground_truth_are_left_out_of_every_score() -> None:
    """OTB's ``NaN,NaN,NaN,NaN`` rows (and zero-size ones) are not frames lost: they are not scored."""
    nan = float("nan")
    gt = np.array([[0, 0, 10, 10], [nan] * 4, [0, 0, 10, 10], [0, 0, 0, 10]], float)
    pr = np.array([[0, 0, 10, 10], [50, 50, 10, 10], [5, 0, 10, 10], [90, 90, 5, 5]], float)
    s = score_tracking(pr, gt, seconds=2.0)
    # scored rows 0 and 2: IoU 1 (above 20 of the 21 thresholds) and 1/3 (above 0, .05, ... .30:
    # 7 of them); centre errors 0 and 5
    assert s.success_auc == pytest.approx((20 + 7) / (2 * 21))
    assert s.precision_20 == 1.0
    assert s.frames_lost == 0 and s.n_frames == 2
    assert s.fps == pytest.approx(2.0)  # the tracker ran on all 4 frames
    assert s.as_dict()["n_frames"] == 2 and isinstance(s.as_dict()["frames_lost"], int)


BOX_CASES = [  # (x, y, w, h) in a 320x240 frame, and the first rule it breaks
    ((10, 10, 50, 40), BoxFault.NONE),
    ((0, 0, 320, 240), BoxFault.NONE),  # the whole frame
    ((10, 10, 50, float("nan")), BoxFault.NOT_FINITE),
    ((10, 10, float("inf"), 40), BoxFault.NOT_FINITE),
    ((10, 10, -5, 5), BoxFault.NEGATIVE_SIZE),
    ((10, 10, 0, 5), BoxFault.ZERO_AREA),
    ((400, 10, 20, 20), BoxFault.OUTSIDE_FRAME),
    ((-30, 10, 20, 20), BoxFault.OUTSIDE_FRAME),
    ((10, 10, 1e30, 80), BoxFault.LARGER_THAN_FRAME),
    ((300, 200, 100, 70), BoxFault.MOSTLY_OUTSIDE),
]


def test_box_faults_name_the_first_rule_each_box_breaks() -> None:
    boxes = np.array([b for b, _ in BOX_CASES], dtype=np.float64)
    with np.errstate(all="raise"):  # NaN and inf rows warn about nothing
        in_frame = box_faults(boxes, (240, 320, 3))
        alone = box_faults(boxes)
    assert in_frame.tolist() == [f for _, f in BOX_CASES]
    # without a frame only the box itself counts; has_box is exactly that
    frame_free = [f if f <= BoxFault.ZERO_AREA else BoxFault.NONE for _, f in BOX_CASES]
    assert alone.tolist() == frame_free
    assert has_box(boxes).tolist() == [f == BoxFault.NONE for f in frame_free]


@pytest.mark.parametrize(("box", "fault"), BOX_CASES)
def test_the_box_checks_of_tracker_and_cli_follow_box_faults(
    box: tuple[float, ...], fault: BoxFault
) -> None:
    import click

    from siamkit.applications.tracking.tracker import check_box
    from siamkit.cli.track_cmds import parse_box

    if fault == BoxFault.NONE:
        assert check_box(box, (240, 320, 3)).tolist() == list(box)
    else:
        with pytest.raises(ValueError):
            check_box(box, (240, 320, 3))
    text = ",".join(str(v) for v in box)
    if fault in (BoxFault.NOT_FINITE, BoxFault.NEGATIVE_SIZE, BoxFault.ZERO_AREA):
        with pytest.raises(click.BadParameter):
            parse_box(text)
    else:  # the frame is not known yet when the option is parsed
        assert parse_box(text) == tuple(float(v) for v in box)


def _otb_overall(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """OTB's overall success AUC and precision@20 by naive loops: each sequence's success and
    precision rates over its frames with a box, then their mean over the sequences (the OTB
    toolkit's and got10k ExperimentOTB.report's averaging)."""
    aucs, precs = [], []
    for pred, gt in runs:
        rows = [(p, g) for p, g in zip(pred.tolist(), gt.tolist()) if g[2] > 0 and g[3] > 0]
        if not rows:
            continue
        rates = [
            sum(naive_iou(p, g) > t for p, g in rows) / len(rows)
            for t in [k / 20 for k in range(21)]
        ]
        aucs.append(sum(rates) / len(rates))
        close = [
            np.hypot(p[0] + p[2] / 2 - g[0] - g[2] / 2, p[1] + p[3] / 2 - g[1] - g[3] / 2) <= 20
            for p, g in rows
        ]
        precs.append(sum(close) / len(close))
    return sum(aucs) / len(aucs), sum(precs) / len(precs)


def test_overall_scores_average_the_sequences_as_otb_does() -> None:
    """evaluate_tracker pooled the frames of every sequence: a 4-frame sequence followed
    throughout and a 40-frame one lost gave success AUC 0.087, where OTB's mean over the
    sequences gives 0.476."""
    from siamkit.applications.tracking.evaluate import evaluate_tracker
    from siamkit.data.tracking_sequences import TrackingSequence

    class Replay:
        def init(self, frame: np.ndarray, box: object) -> None:
            self.boxes = iter(plans.pop(0))

        def update(self, frame: np.ndarray) -> np.ndarray:
            return next(self.boxes)

    rng = np.random.default_rng(0)
    frame = np.zeros((120, 160, 3), np.uint8)
    truths, plans = [], []
    for n in (5, 41, 12, 2):
        gt = np.c_[rng.uniform(10, 60, (n, 2)), rng.uniform(10, 40, (n, 2))]
        truths.append(gt)
        plans.append(list(gt[1:] + rng.normal(0, 6, (n - 1, 4)) * [1, 1, 0.5, 0.5]))
    truths[2][4] = np.nan  # a frame without a box, left out of its sequence's rates
    truths[3][1] = 0  # the only later frame has none: no score for this sequence
    seqs = [TrackingSequence(f"s{i}", [frame] * len(g), g) for i, g in enumerate(truths)]
    want = [(np.stack(p), g[1:]) for p, g in zip(plans, truths)]
    scores, runs = evaluate_tracker(Replay, seqs)
    auc, p20 = _otb_overall(want)
    assert scores.success_auc == pytest.approx(auc, abs=1e-12)
    assert scores.precision_20 == pytest.approx(p20, abs=1e-12)
    assert scores.success.mean() == pytest.approx(auc, abs=1e-12)
    assert scores.n_frames == 4 + 40 + 10 and scores.frames_lost == sum(
        r.scores.frames_lost for r in runs
    )
