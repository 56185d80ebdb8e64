"""ThresholdCalibrator is scikit-learn shaped, so a user calls ``fit(embeddings, labels)``; it
takes genuine and impostor distances and said only 'genuine distances must be 1-D, got shape
(12, 8)'. It now says what it takes and which call takes embeddings and labels."""

from __future__ import annotations

import pytest
import torch

from siamkit.evaluation import ThresholdCalibrator, calibrate_threshold, pair_distances


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(12, 8, generator=g), torch.arange(12) % 3


@pytest.mark.parametrize("as_numpy", [False, True])
def test_embeddings_and_labels_are_pointed_to_calibrate_threshold(as_numpy: bool) -> None:
    z, y = _batch()
    with pytest.raises(
        ValueError,
        match=r"^fit takes genuine and impostor distances, 1-D each, got a 2-D genuine "
        r"\(embeddings\?\); for embeddings and labels use calibrate_threshold\(z, labels, "
        r"target=\.\.\.\)$",
    ):
        ThresholdCalibrator().fit(z.numpy() if as_numpy else z, y)


def test_the_call_it_points_to_gives_the_fit_of_the_pair_distances() -> None:
    z, y = _batch()
    pairs = pair_distances(z, y)
    fitted = ThresholdCalibrator().fit(pairs.genuine, pairs.impostor).threshold_
    assert calibrate_threshold(z, y) == pytest.approx(fitted)
