"""One pair gets one verdict whichever command scores it: text similarity (compare_texts), the
service's /verify (verify_pair), a gallery's verify and identify (text verify --label, text
identify) and text dedup (similar_pairs) all hold a distance to its threshold within float32
rounding, by one rule (siamkit.index.decision). Before, only similarity, dedup and plagiarism
allowed for rounding: at 1.0 ("identical texts only") verify_pair and a gallery's verify called
3 of 20 copies different and identify left 6 of 20 without their label, and a pair 5e-7 under a
threshold was the same for text similarity and not for /verify."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.text.dedup import similar_pairs
from siamkit.applications.text.similarity import compare_texts
from siamkit.index import Gallery, verify_pair

COPIES = [f"Report {k}: the river rose {k} metres overnight near the old mill." for k in range(20)]
A = "The printer on floor two is out of toner."
B = "Printer toner is empty again."


def _verdicts(model, a: str, b: str, t: float, path) -> dict[str, bool | None]:  # type: ignore[no-untyped-def]
    """Whether ``a`` and ``b`` are the same at the distance threshold ``t``, by each command."""
    with Gallery.open(path, model, threshold=t) as g:
        g.enroll("b", [b])
        g.enroll("far", ["The coffee machine on floor three is broken."])
        verified, found = g.verify(a, "b").same, g.identify(a).label == "b"
    z = model.embed([a, b]).numpy()
    return {
        "compare_texts": compare_texts(model, a, b, 1.0 - t).same,
        "verify_pair": verify_pair(model, a, b, threshold=t).same,
        "gallery verify": verified,
        "gallery identify": found,
        "similar_pairs": similar_pairs(z, max(-1.0, min(1.0, 1.0 - t))).tolist() == [[0, 1]],
    }


def test_every_command_calls_a_copy_the_same_at_one(text_model, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(text_model, "threshold", None)
    with Gallery.open(tmp_path / "g.db", text_model, threshold=0.0) as g:
        for k, t in enumerate(COPIES):
            g.enroll(f"r{k}", [t])
        verified = [g.verify(t, f"r{k}").same for k, t in enumerate(COPIES)]
        identified = [g.identify(t).label == f"r{k}" for k, t in enumerate(COPIES)]
    z = text_model.embed(COPIES).numpy()
    linked = similar_pairs(np.concatenate([z, z]), 1.0).tolist()
    said = {
        "compare_texts": [compare_texts(text_model, t, t, 1.0).same for t in COPIES],
        "verify_pair": [verify_pair(text_model, t, t, threshold=0.0).same for t in COPIES],
        "gallery verify": verified,
        "gallery identify": identified,
        "similar_pairs": [[k, k + 20] in linked for k in range(20)],
    }
    assert said == {name: [True] * 20 for name in said}


@pytest.mark.parametrize("under", [5e-7, 5e-6])
def test_a_pair_within_rounding_of_a_threshold_gets_one_verdict(
    text_model, tmp_path, monkeypatch, under: float
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(text_model, "threshold", None)
    d = compare_texts(text_model, A, B, 0.5).distance
    assert 0.05 < d < 0.95  # an ordinary pair, neither a copy nor unrelated
    # the threshold just under the pair's distance, within float32 rounding of it: the same
    said = _verdicts(text_model, A, B, d - under, tmp_path / "in.db")
    assert said == {name: True for name in said}
    # and well beyond the rounding, different for every command (the rule is no "accept all")
    said = _verdicts(text_model, A, B, d - 1e-4, tmp_path / "out.db")
    assert said == {name: False for name in said}
