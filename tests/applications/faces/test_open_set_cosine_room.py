"""At cosine, ``open_set_identification`` put its threshold just under the first unknown probe's
distance it must reject, as it does for Euclidean distances, which a gallery re-measures pair by
pair. A gallery takes a cosine from a block product, whose float32 rounding moves with how many
probes are searched at once: that unknown, measured a float32 step lower, passed, one false
alarm more than the FAR allows (42 of 1,704 operating points on small grid embeddings). The
threshold now keeps a far fit's room (ROUNDING) there."""

from __future__ import annotations

import numpy as np

from siamkit.applications.faces.open_set import open_set_identification
from siamkit.decision import accepts
from siamkit.evaluation.roc import false_accepts_allowed
from siamkit.index import ExactIndex


def test_a_cosine_gallery_at_the_reported_threshold_keeps_the_far_batched_or_one_by_one():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(120):
        dim, n_gal, n_probe = (int(v) for v in rng.integers((2, 1, 2), (6, 30, 40)))
        scale = np.float32(rng.choice([1, 0.1, 1e-3]))
        gal = rng.integers(-2, 3, (n_gal, dim)).astype(np.float32) * scale
        probes = rng.integers(-2, 3, (n_probe, dim)).astype(np.float32) * scale
        ids = int(rng.integers(1, 6))
        gal_y = [f"id{rng.integers(ids)}" for _ in range(n_gal)]
        probe_y = [f"id{rng.integers(ids + 3)}" for _ in range(n_probe)]
        unknown = np.array([y not in set(gal_y) for y in probe_y])
        if unknown.all() or not unknown.any():
            continue
        got = open_set_identification(gal, gal_y, probes, probe_y, (0.1, 0.25, 0.5), "cosine")
        # the reference: a gallery's search (its ExactIndex), all unknowns at once and one by one
        index = ExactIndex(dim, "cosine")
        index.add(gal, np.arange(n_gal))
        batch = index.search(probes[unknown], 1).distances[:, 0]
        alone = np.array([index.search(p[None], 1).distances[0, 0] for p in probes[unknown]])
        for far, t in got.thresholds.items():
            allowed = false_accepts_allowed(far, int(unknown.sum()))
            assert int(accepts(batch, t).sum()) <= allowed, far
            assert int(accepts(alone, t).sum()) <= allowed, far
            checked += 1
    assert checked > 200
