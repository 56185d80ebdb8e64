"""save_model wrote a NaN or infinite threshold without complaint, into a folder load_model then
refused ("has threshold nan; it must be a finite number"): a run whose threshold came from an EER
with nothing to measure (a signature run without skilled forgeries, 7b9e1b2d) ended with a model
that could not be loaded (reviewer s52_R2). It is refused at save now, before anything is
written, in the sentence load_model would have said."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.models import Preprocess, SiameseNetwork


def _net() -> SiameseNetwork:
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    return SiameseNetwork(enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 8, 8)))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("given", [True, False])
def test_a_threshold_that_is_not_finite_is_refused_before_anything_is_written(
    tmp_path: Path, bad: float, given: bool
) -> None:
    net, dest = _net(), tmp_path / "model"
    siamkit.save_model(net, dest, threshold=0.5)  # a model already there stays as it was
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    if not given:
        net.threshold = bad
    with pytest.raises(ValueError, match=r"^save_model: the threshold is .*; it must be a finite"):
        siamkit.save_model(net, dest, threshold=bad if given else None)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folder left
    assert siamkit.load_model(dest).threshold == 0.5


@pytest.mark.parametrize("threshold", [None, 0.0, 1.25])
def test_a_finite_threshold_or_none_saves_and_loads_back(
    tmp_path: Path, threshold: float | None
) -> None:
    siamkit.save_model(_net(), tmp_path / "model", threshold=threshold)
    assert siamkit.load_model(tmp_path / "model").threshold == threshold
