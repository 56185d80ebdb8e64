"""The Euclidean open-set threshold was the largest at which a gallery's own float32 ``|q - g|``
of the first unknown probe it must reject is rejected, with no room for any other reader: the
ONNX runtime (``siamkit.export.runtime``) computes the same distance in float64 from the same
float32 embeddings, up to half a float32 step lower, and at that threshold accepted the unknown
the gallery rejects: one false alarm more than the FAR allows (1 of 27,000 unknown probes in
random 8- to 128-D fits, s55_c1's openset_repro.py). The threshold now keeps the far fit's
ROUNDING of room under that unknown, as it did for cosine."""

from __future__ import annotations

import numpy as np
import torch

from siamkit.applications.faces.open_set import open_set_identification
from siamkit.distances import get_distance
from siamkit.evaluation.threshold import highest_rejecting
from siamkit.export.runtime import accepts as runtime_accepts
from siamkit.export.runtime import pairwise_distance


def _onnx_reader_edge_cases(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs (probe, gallery item) whose float64 distance the ONNX runtime accepts at the
    largest threshold at which every reader rejects their float32 ``|q - g|`` (the gallery's)."""
    rng = np.random.default_rng(0)
    found = []
    for _ in range(20_000):
        q, g = np.float32(rng.normal(size=(2, 64)) / 8)
        d32 = float(
            get_distance("euclidean").pairwise(torch.tensor(q[None]), torch.tensor(g[None]))[0]
        )
        d64 = pairwise_distance("euclidean", q[None], g[None])
        if bool(runtime_accepts(d64, highest_rejecting(d32))[0]):
            found.append((q, g))
            if len(found) == n:
                break
    return found


def test_the_onnx_runtime_rejects_the_unknown_the_threshold_rejects() -> None:
    cases = _onnx_reader_edge_cases(3)
    assert len(cases) == 3  # the precondition: the two measures part at a no-room threshold
    for q, g in cases:
        known = g + np.float32(1e-3)
        got = open_set_identification(g[None], ["a"], np.stack([known, q]), ["a", "u"], fars=(0.5,))
        t = got.thresholds[0.5]  # 0 of the 1 unknown probe allowed through
        assert not runtime_accepts(pairwise_distance("euclidean", q[None], g[None]), t)[0]
        assert runtime_accepts(pairwise_distance("euclidean", known[None], g[None]), t)[0]
        assert got.dir_at_far[0.5] == 1.0
