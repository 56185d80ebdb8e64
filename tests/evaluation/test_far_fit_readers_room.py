"""A far fit's threshold leaves room for the readers to compute the impostor's distance their own
way: calibrate fits on pair_distances (a float64 product since feaf21db), siamkit verify judges
model_distance(...).pairwise (a float32 difference or float32 cosine) and the ONNX runtime its own
pairwise_distance (float64), several float32 steps apart. With the threshold lowered by no more
than it took to reject the fit's own number, verify accepted the impostor the fit saved as
rejected (FAR 0.0) in 54 of 300 fits of 64-D cosine embeddings (reviewer s53_R2 finding 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from siamkit.decision import accepts
from siamkit.distances import get_distance
from siamkit.evaluation.pairs import pair_distances
from siamkit.evaluation.threshold import ThresholdCalibrator
from siamkit.export.runtime import pairwise_distance


@pytest.mark.parametrize("name", ["cosine", "euclidean"])
def test_no_reader_accepts_the_impostor_a_far_0_fit_saved_as_rejected(name: str) -> None:
    rng = np.random.default_rng(0)
    dist = get_distance(name)
    verify_accepts = runtime_accepts = 0
    for _ in range(300):
        a = rng.normal(size=64).astype(np.float32)
        a /= np.linalg.norm(a)
        b = a + rng.uniform(0.01, 0.3) * rng.normal(size=64).astype(np.float32)
        b /= np.linalg.norm(b)
        # two copies of a (one class) and b (another): one impostor pair, a-b, twice
        z = torch.from_numpy(np.stack([a, a, b]))
        pd = pair_distances(z, np.array([0, 0, 1]), name)
        # a genuine pair 5e-6 under the impostor, so that the fit is lowered under it
        genuine = np.float32([float(pd.impostor[0]) - 5e-6])
        cal = ThresholdCalibrator("far", far=0.0).fit(genuine, pd.impostor)
        assert cal.threshold_ < float(genuine[0])  # the case: lowered under the impostor
        t = json.loads(json.dumps(cal.threshold_))  # as siamkit.json stores it
        # as siamkit verify measures the pair (index.verify.verify_pair) and decides
        d_verify = float(dist.pairwise(torch.from_numpy(a[None]), torch.from_numpy(b[None]))[0])
        verify_accepts += bool(accepts(d_verify, t))
        # as the ONNX runtime measures it
        d_runtime = pairwise_distance(name, a[None], b[None])
        runtime_accepts += bool(accepts(d_runtime, t)[0])
    assert (verify_accepts, runtime_accepts) == (0, 0)
