"""OnnxEmbedder takes the float tensors the torch model's embed takes: a bfloat16 batch (a model
run under autocast) failed in torch's .numpy() with "Got unsupported ScalarType BFloat16", where
the torch model casts it to its weights' float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.export.runtime import OnnxEmbedder, OnnxModelInfo
from siamkit.models import Preprocess


def _stub(input_shape: tuple[int, ...]) -> OnnxEmbedder:
    """An OnnxEmbedder that only checks batches, for a model taking ``input_shape``."""
    emb = object.__new__(OnnxEmbedder)
    emb.info = OnnxModelInfo("0", 8, "euclidean", None, input_shape, "f", (0.0,), (1.0,),
                             "fp32", None, "siamese")  # fmt: skip
    emb._other_shape, emb._other_read = None, True
    return emb


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_a_float_tensor_of_any_precision_is_checked_as_the_torch_model_takes_it(dtype):
    x = torch.rand(2, 1, 8, 8).to(dtype)
    got = _stub((1, 8, 8)).check(x)
    prep = Preprocess(mean=(0.0,), std=(1.0,), input_shape=(1, 8, 8))
    prep.check(x)  # the torch model takes it ...
    want = prep(x).numpy()  # ... as float32, the weights' dtype
    assert got.dtype == np.float32 and want.dtype == np.float32
    np.testing.assert_array_equal(got, want)
