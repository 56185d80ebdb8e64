"""A text run's report.html gave its calibrated threshold's TAR and FAR on the validation pairs
by a strict ``distance <= threshold``, while the model accepts a pair within float32 rounding
above it (siamkit.decision.accepts): a same pair 0.5e-5 over the threshold, which the service's
/verify and ``siamkit text similarity`` call the same, was counted a false reject."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import siamkit.evaluation.report
from siamkit.applications.text.pairs import TextExamples
from siamkit.applications.text.train_report import write_run_report
from siamkit.index import verify_pair

PAIRS = [
    ("the printer is out of toner", "printer needs new toner", 1),
    ("vpn login fails at home", "cannot connect to the vpn", 1),
    ("battery drains quickly", "the battery runs out fast", 1),
    ("the printer is out of toner", "vpn login fails at home", 0),
    ("please reset my password", "the sink is leaking", 0),
    ("battery drains quickly", "printer needs new toner", 0),
]


@pytest.mark.parametrize("over", [0.5e-5, 2e-5, 1e-4])
@pytest.mark.parametrize("edge", [1, 3])  # a same pair, a different pair
def test_the_reports_rates_count_the_models_verdicts(
    text_model, tmp_path, monkeypatch, edge: int, over: float
) -> None:  # type: ignore[no-untyped-def]
    """The threshold ``over`` under pair ``edge``'s distance: a different pair 0.5e-5 over it
    is a false accept (a strict FAR passed the same-pair case alone), one 2e-5 over it is not."""
    monkeypatch.setattr(text_model, "threshold", None)
    d = [verify_pair(text_model, a, b).distance for a, b, _ in PAIRS]
    t = d[edge] - over  # that pair `over` beyond the threshold
    said: dict[str, Any] = {}
    monkeypatch.setattr(
        siamkit.evaluation.report,
        "write_verification_report",
        lambda path, report, **kw: said.update(kw) or path,
    )
    val = TextExamples(
        "pairs", (tuple(a for a, *_ in PAIRS), tuple(b for _, b, _ in PAIRS)),
        tuple(float(s) for *_, s in PAIRS),
    )  # fmt: skip
    write_run_report(tmp_path / "report.html", text_model, val, False, [], {}, threshold=t)
    # the reference: the model's own verdict on each pair, as the service's /verify gives it
    same = np.array([bool(verify_pair(text_model, a, b, threshold=t).same) for a, b, _ in PAIRS])
    assert same[edge] == (over < 1e-5)
    label = np.array([s for *_, s in PAIRS]) == 1
    test = said["calibration"]["test"]
    assert (test["tar"], test["far"]) == (
        pytest.approx(same[label].mean()),
        pytest.approx(same[~label].mean()),
    )
