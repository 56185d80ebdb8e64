"""``face evaluate --identities`` reported as its threshold at a FAR the float just under the
first unknown probe's distance it must reject, but a gallery accepts a distance within float32
rounding above its threshold (siamkit.decision.accepts): at that threshold a gallery let that
unknown through too, 30 false alarms of 100 at FAR 0.29 (29 allowed)."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.faces.open_set import open_set_identification
from siamkit.evaluation.roc import false_accepts_allowed
from siamkit.index import Gallery


@pytest.mark.parametrize("far", [0.29, 0.57, 0.05])
def test_a_gallery_at_the_reported_threshold_keeps_the_far(tmp_path, far: float) -> None:  # type: ignore[no-untyped-def]
    gallery = np.zeros((1, 1), np.float32)
    # known probes of "a" around each threshold, one within float32 rounding under an unknown
    known = [0.5, 5.999995, 29.5, 29.999995, 57.5, 80.0]
    probes = np.r_[known, np.arange(1, 101)].astype(np.float32)[:, None]
    labels = ["a"] * len(known) + [f"u{i}" for i in range(100)]
    got = open_set_identification(gallery, ["a"], probes, labels, fars=(far,))
    # the reference: a gallery of the one identity, at the reported threshold, as served
    with Gallery.open(
        tmp_path / "g.db", embedding_dim=1, distance="euclidean", threshold=got.thresholds[far]
    ) as g:
        g.enroll_embeddings("a", gallery)
        said = [r.label == "a" for r in g.identify_embeddings(probes, k=1)]
    false_alarms = sum(said[len(known) :])
    assert false_alarms == false_accepts_allowed(far, 100)  # the most FAR allows, no more
    assert got.dir_at_far[far] == pytest.approx(np.mean(said[: len(known)]))
