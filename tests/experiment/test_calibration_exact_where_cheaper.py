"""A run's threshold fit (experiment.protocol.calibrate) took a seeded sample of CALIBRATION_PAIRS
pairs from any set with more, where all pairs cost no more: the 3,600 validation images of
a fine-tune's 4,544-wide features were fitted on 300,000 sampled pairs in 13.9 s against 7.4 s
for all 6,478,200 (s59_c7), and inexactly. Its test rates (rates_at) sampled the test pairs the
verification had just computed all of. Now the fit takes all pairs where they cost no more
(calibration_pairs): every set of no more pairs than the sample; else a set of at most the
sample's pairs times the factor of its distance at its width (a matrix product's named distance
gains with the width, manhattan keeps the floor of 2, a Mahalanobis distance gains more with the
width, a cohort-normalised one a fixed 10; the factors are written out once, in the comment above
evaluation.verification.EXACT_PAIRS_PER_SAMPLED), never past STREAM_PAIRS; a distance that scores each pair through a
network (an MLPMetric, or a cohort over one) keeps the sample. rates_at counts every test pair
up to STREAM_PAIRS, taking the verification's distances again inside shared_distance_matrices.
Checked against a naive all-pairs loop and sklearn's roc_curve."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_curve

import siamkit.evaluation.pairs as pairs_module
import siamkit.evaluation.verification as verification
import siamkit.experiment.protocol as protocol
from siamkit.decision import ROUNDING
from siamkit.distances import CohortNormalized, MahalanobisDistance, MLPMetric
from siamkit.evaluation import shared_distance_matrices
from siamkit.evaluation.pairs import all_pair_distances
from siamkit.evaluation.threshold import ThresholdCalibrator
from siamkit.evaluation.verification import verification_from_embeddings
from siamkit.progress import is_enabled, set_enabled

N = 40  # 780 distinct pairs
CAP = 100  # the sample, as CALIBRATION_PAIRS: 780 pairs are 7.8 samples' worth
NET = SimpleNamespace(scoring_distance="euclidean", score_norm=None)


def _set(width: int) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(N, width, generator=torch.Generator().manual_seed(2))
    return torch.nn.functional.normalize(z, dim=1), torch.arange(N) % 4


def _naive(z: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances of every pair i < j, one pair at a time in float64."""
    zz = z.double().numpy()
    genuine, impostor = [], []
    for i, j in itertools.combinations(range(len(y)), 2):
        d = float(np.sqrt(((zz[i] - zz[j]) ** 2).sum()))
        (genuine if y[i] == y[j] else impostor).append(d)
    return np.array(genuine), np.array(impostor)


def _sklearn_rates(genuine: np.ndarray, impostor: np.ndarray, t: float) -> tuple[float, float]:
    """TAR and FAR at ``t`` (a pair accepted up to ROUNDING above it) read off sklearn's ROC."""
    d = np.concatenate([genuine, impostor])
    same = np.r_[np.ones(genuine.size), np.zeros(impostor.size)]
    fpr, tpr, thr = roc_curve(same, -d, drop_intermediate=False)
    i = np.nonzero(thr >= -(t + ROUNDING))[0][-1]  # the last point accepting d <= t + ROUNDING
    return float(tpr[i]), float(fpr[i])


def _calibrate(z: torch.Tensor, y: torch.Tensor, capsys: pytest.CaptureFixture[str]) -> float:
    was = is_enabled()
    set_enabled(True)
    try:
        t = protocol.calibrate(z, y, NET, "eer", seed=0)  # type: ignore[arg-type]
    finally:
        set_enabled(was)
    return t


def test_a_wide_set_is_fitted_on_all_pairs_where_they_cost_no_more(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """1,600 dims: all pairs cost 1/8 of a sampled one's (max(2, 1600 / 200)), so 780 pairs
    cost no more than a sample of 100; the threshold is the exhaustive fit's."""
    monkeypatch.setattr(verification, "CALIBRATION_PAIRS", CAP)
    z, y = _set(1_600)
    genuine, impostor = _naive(z, y)
    exhaustive = ThresholdCalibrator("eer").fit(genuine, impostor).threshold_
    t = _calibrate(z, y, capsys)
    assert "calibrating the verification threshold on all 780 pairs of 40 validation images" in (
        capsys.readouterr().err
    )
    assert t == pytest.approx(exhaustive, rel=1e-6, abs=1e-7)
    # and it is the EER point of every pair: sklearn's ROC gives FAR = FRR there
    tar, far = _sklearn_rates(genuine, impostor, t)
    fpr, tpr, _ = roc_curve(
        np.r_[np.ones(genuine.size), np.zeros(impostor.size)], -np.r_[genuine, impostor]
    )
    assert abs(far - (1 - tar)) <= np.min(np.abs(fpr - (1 - tpr))) + 1 / genuine.size


def test_a_narrow_set_with_many_more_pairs_keeps_the_sample(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """8 dims: all pairs cost half a sampled one's at best, and 780 pairs are more than 2
    samples of 100: the sample stays, with its message."""
    monkeypatch.setattr(verification, "CALIBRATION_PAIRS", CAP)
    z, y = _set(8)
    _calibrate(z, y, capsys)
    assert "on a sample of 100 pairs of 40 validation images" in capsys.readouterr().err


def test_the_rule_by_pair_count_and_width() -> None:
    cap = protocol.CALIBRATION_PAIRS
    assert protocol.calibration_pairs(775, 64, "euclidean") is None  # 299,925 pairs: all
    assert protocol.calibration_pairs(1_095, 64, "cosine") is None  # 598,965: 2 samples' worth
    assert protocol.calibration_pairs(1_096, 64, "cosine") == cap  # 600,060: past 2 x 300,000
    assert protocol.calibration_pairs(3_600, 304, "euclidean") == cap  # the demo's validation
    assert protocol.calibration_pairs(3_600, 4_544, "euclidean") is None  # a fine-tune's taps
    assert protocol.calibration_pairs(3_600, 4_544, "sqeuclidean") is None  # a matrix product too
    # manhattan's matrix (cdist p=1) is O(width) per pair, not a matrix product: all pairs gain no
    # more on a sample with the width (2.7 at 4,544 dims, s60_r3), so it keeps the floor of 2
    assert protocol.calibration_pairs(3_600, 4_544, "manhattan") == cap
    assert protocol.calibration_pairs(3_600, 1_024, "manhattan") == cap
    assert protocol.calibration_pairs(1_095, 4_544, "manhattan") is None  # 598,965: the floor
    # an MLPMetric scores every pair through its network: about as dear per pair either way
    assert protocol.calibration_pairs(776, 64, MLPMetric(64)) == cap  # 300,700: past the cap
    assert protocol.calibration_pairs(775, 64, MLPMetric(64)) is None


def test_all_pairs_never_past_stream_pairs() -> None:
    """The width factor grows without bound: 49,995,000 pairs of 10,000 embeddings 40,000 wide
    (191 MiB as float32, then sorted) were all taken, past STREAM_PAIRS, where the verification
    streams and rates_at samples (s60_FA finding 3)."""
    cap, stream = protocol.CALIBRATION_PAIRS, protocol.STREAM_PAIRS
    assert protocol.calibration_pairs(10_000, 40_000, "euclidean") == cap
    assert protocol.calibration_pairs(5_000, 12_288, "cosine") == cap  # 12,497,500 pairs
    n = 4_096  # 8,386,560 pairs: just under STREAM_PAIRS (8,388,608), and 28 samples' worth
    assert protocol.n_pairs(n) <= stream < protocol.n_pairs(n + 1)
    assert protocol.calibration_pairs(n, 40_000, "euclidean") is None
    assert protocol.calibration_pairs(n + 1, 40_000, "euclidean") == cap


def test_mahalanobis_and_cohort_distances_take_all_pairs_where_cheaper() -> None:
    """A Mahalanobis matrix is the Euclidean one of the projections, and a cohort's statistics
    are taken once per item over all pairs: all pairs cost 10-83 times less per pair than a
    sample (BENCHMARKS.md, hand-timed, s60_mfa), yet both were sampled above the cap (s60_FA
    finding 2: a 1,600 x 304 Mahalanobis fit sampled at 7.6 CPU-s, all pairs 0.38), and still
    were at the first correction's factors of width / 200 and 2 (s60_LR finding 1)."""
    cap = protocol.CALIBRATION_PAIRS
    # s60_FA's own case, 1,279,200 pairs: all of them, at 38 and at 10 samples' worth
    assert protocol.calibration_pairs(1_600, 304, MahalanobisDistance(304)) is None
    cohort_304 = CohortNormalized("euclidean", torch.randn(50, 304), k=10)
    assert protocol.calibration_pairs(1_600, 304, cohort_304) is None
    assert protocol.calibration_pairs(3_600, 4_544, MahalanobisDistance(4_544)) is None
    # 64 dims: width / 8 = 8 samples' worth, 2,400,000 pairs (2,191 images)
    assert protocol.calibration_pairs(2_191, 64, MahalanobisDistance(64)) is None
    assert protocol.calibration_pairs(2_192, 64, MahalanobisDistance(64)) == cap
    # 304 dims: 38 samples' worth, held to STREAM_PAIRS (4,096 images)
    assert protocol.calibration_pairs(4_096, 304, MahalanobisDistance(304)) is None
    assert protocol.calibration_pairs(4_097, 304, MahalanobisDistance(304)) == cap
    cohort = torch.randn(50, 64)
    for base in ("euclidean", "manhattan", MahalanobisDistance(64)):
        norm = CohortNormalized(base, cohort, k=10)
        assert protocol.calibration_pairs(2_449, 64, norm) is None  # 2,997,576: 10 samples
        assert protocol.calibration_pairs(2_450, 64, norm) == cap  # 3,000,025
    assert protocol.calibration_pairs(3_600, 4_544, CohortNormalized("cosine", cohort, k=10)) == cap
    # a cohort over a pair head still scores every pair through the network: the sample
    over_mlp = CohortNormalized(MLPMetric(64), cohort, k=10)
    assert protocol.calibration_pairs(1_095, 64, over_mlp) == cap


def test_rates_count_every_test_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    """More pairs than the sample, as the demo's 4,000 test images (8M pairs): every pair.
    rates_at reads verification's CALIBRATION_PAIRS when called, as calibration_pairs does, so
    one patch shrinks the sample for both (s61_r3: while rates_at read protocol's copy, bound
    at import, a rates_at sampling above the sample passed with verification's patched)."""
    monkeypatch.setattr(verification, "CALIBRATION_PAIRS", CAP)
    z, y = _set(8)
    genuine, impostor = _naive(z, y)
    t = float(np.median(genuine))
    r = protocol.rates_at(z, y, NET, t)  # type: ignore[arg-type]
    tar, far = _sklearn_rates(genuine, impostor, t)
    assert (r.tar, r.far) == (pytest.approx(tar), pytest.approx(far))
    assert r.tar == pytest.approx(np.mean(genuine <= t + ROUNDING))


def test_rates_at_reads_verifications_names_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    """rates_at read CALIBRATION_PAIRS and STREAM_PAIRS through protocol's copies, bound at
    import, while calibration_pairs reads verification's own names: a patched (or changed)
    value there reached the threshold fit but not the rates. Now both read verification's
    names when called: with the stream limit at 500 of the 780 pairs and the sample at 100,
    rates_at counts the seeded sample of 100 pairs (seed 0), not every pair."""
    monkeypatch.setattr(verification, "CALIBRATION_PAIRS", CAP)
    monkeypatch.setattr(verification, "STREAM_PAIRS", 500)
    z, y = _set(8)
    genuine, impostor = _naive(z, y)
    t = float(np.median(genuine))
    sample = pairs_module.pair_distances(z, y, "euclidean", max_pairs=CAP, seed=0)
    assert sample.genuine.size + sample.impostor.size == CAP
    tar = float(np.mean(np.asarray(sample.genuine) <= t + ROUNDING))
    far = float(np.mean(np.asarray(sample.impostor) <= t + ROUNDING))
    every = (float(np.mean(genuine <= t + ROUNDING)), float(np.mean(impostor <= t + ROUNDING)))
    assert abs(tar - every[0]) > 0.01 or abs(far - every[1]) > 0.01  # not every pair's rates
    r = protocol.rates_at(z, y, NET, t)  # type: ignore[arg-type]
    assert (r.tar, r.far) == (pytest.approx(tar), pytest.approx(far))


def test_rates_take_the_verification_s_distances(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the verification of the same set, inside shared_distance_matrices, rates_at takes
    its distances again: one pass over the pairs, not two; a changed set is computed again, and
    so are another distance on the same z and another tensor with the same labels (s60_r3: with
    either guard of kept_pairs removed, they silently came back as the first set's)."""
    z, y = _set(8)
    t = 1.0
    alone = protocol.rates_at(z, y, NET, t)  # type: ignore[arg-type]
    cosine = all_pair_distances(z, y, "cosine")
    fresh = torch.nn.functional.normalize(
        torch.randn(N, 8, generator=torch.Generator().manual_seed(3)), dim=1
    )
    fresh_alone = protocol.rates_at(fresh, y, NET, t)  # type: ignore[arg-type]
    assert fresh_alone != alone
    passes: list[int] = []
    real = pairs_module.pair_blocks

    def pair_blocks(*args, **kwargs):  # type: ignore[no-untyped-def]
        passes.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pairs_module, "pair_blocks", pair_blocks)
    with shared_distance_matrices():
        verification_from_embeddings(z, y, "euclidean")
        assert protocol.rates_at(z, y, NET, t) == alone  # type: ignore[arg-type]
        assert len(passes) == 1
        again = all_pair_distances(z, y, "cosine")  # the same z and labels, another distance
        assert np.array_equal(again.genuine, cosine.genuine)
        assert np.array_equal(again.impostor, cosine.impostor)
        assert len(passes) == 2
        assert protocol.rates_at(fresh, y, NET, t) == fresh_alone  # type: ignore[arg-type]
        assert len(passes) == 3  # another tensor, the same labels
        assert protocol.rates_at(z.clone(), y, NET, t) == alone  # type: ignore[arg-type]
        assert len(passes) == 4  # equal values in their own storage: not the kept view
        other = protocol.rates_at(z, (y + 1) % 3, NET, t)  # type: ignore[arg-type]
        assert len(passes) == 5  # other labels: other pairs
        z.mul_(2.0)  # the same tensor, changed in place
        assert protocol.rates_at(z, y, NET, t) != alone  # type: ignore[arg-type]
        assert len(passes) == 6
    assert other == protocol.rates_at(z.div(2.0), (y + 1) % 3, NET, t)  # type: ignore[arg-type]
