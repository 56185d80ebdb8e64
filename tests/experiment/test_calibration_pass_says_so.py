"""A run's threshold calibration says it is calibrating on validation pairs (s57_c8 N2): its
pass's count reads "verification pairs ... blocks", the words of the test verification."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from siamkit.experiment.protocol import calibrate
from siamkit.progress import is_enabled, progress_off, set_enabled


def _calibrate(capsys, n: int) -> str:
    net = SimpleNamespace(scoring_distance="euclidean", score_norm=None)
    z = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    was = is_enabled()
    set_enabled(True)
    try:
        calibrate(z, torch.arange(n) % 3, net, "eer", seed=0)  # type: ignore[arg-type]
    finally:
        set_enabled(was)
    return capsys.readouterr().err


def test_calibration_says_it_fits_the_threshold_on_all_validation_pairs(capsys) -> None:
    err = _calibrate(capsys, 30)
    assert "calibrating the verification threshold on all 435 pairs of 30 validation images" in err


def test_calibration_names_its_sample(capsys, monkeypatch) -> None:
    import siamkit.evaluation.verification as verification

    monkeypatch.setattr(verification, "CALIBRATION_PAIRS", 100)
    err = _calibrate(capsys, 30)
    assert "on a sample of 100 pairs of 30 validation images" in err


def test_no_line_with_progress_off(capsys) -> None:
    net = SimpleNamespace(scoring_distance="euclidean", score_norm=None)
    with progress_off():
        calibrate(torch.randn(6, 2), torch.arange(6) % 2, net, "eer", seed=0)  # type: ignore[arg-type]
    assert "calibrating" not in capsys.readouterr().err
