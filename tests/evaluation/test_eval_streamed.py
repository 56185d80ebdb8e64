"""Streamed verification (all pairs, impostors never held) against the in-memory report, a naive
pair loop and scikit-learn; and the exact rank selection it reads impostor distances with."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

import siamkit.evaluation._common as common
import siamkit.evaluation.rank_select as rank_select
import siamkit.evaluation.streamed as streamed
import siamkit.evaluation.verification as verification
from siamkit.distances import get_distance
from siamkit.evaluation import all_pair_distances, verification_report
from siamkit.evaluation.rank_select import RankSelector
from siamkit.evaluation.streamed import StreamedPairs
from siamkit.evaluation.verification import streamed_verification_report

FARS = (1e-3, 1e-2, 0.1, 0.5, 0.0, 1.0)


def _naive_pairs(z: torch.Tensor, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor distances by a loop over the pairs ``i < j``, one pair at a time."""
    dist = get_distance(name)
    g, m = [], []
    for i, j in itertools.combinations(range(len(y)), 2):
        d = dist.pairwise(z[i : i + 1], z[j : j + 1]).numpy()[0]
        (g if y[i] == y[j] else m).append(d)
    return np.array(g, dtype=z.numpy().dtype), np.array(m, dtype=z.numpy().dtype)


def _layout(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Labels of several class layouts."""
    if kind == "balanced":
        return np.repeat(np.arange(4), 10)
    if kind == "two classes, uneven":
        return np.array([0] * 30 + [1] * 7)
    if kind == "singletons":  # classes of one item have no genuine pair
        return np.array([0, 0, 0, 1, 2, 3, 4, 4, 5, 6, 6, 6, 7, 8, 9, 9, 10, 11] * 2)
    return rng.integers(0, 12, 44)  # random sizes


def _same(a: object, b: object) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[call-overload]


def _assert_same_report(
    got: verification.VerificationReport, want: verification.VerificationReport
):
    assert got == want  # every metric field, exactly
    assert got.to_dict() == want.to_dict()
    assert _same(got.curve, want.curve)
    assert _same(got.histogram, want.histogram)


@pytest.mark.parametrize("kind", ["balanced", "two classes, uneven", "singletons", "random"])
@pytest.mark.parametrize("name", ["euclidean", "cosine"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_streamed_report_equals_in_memory_naive_and_sklearn(monkeypatch, kind, name, dtype):
    """Rounded embeddings give many tied distances; blocks of 60 values run several chunks."""
    rng = np.random.default_rng(len(kind) + len(name))
    y = _layout(kind, rng)
    z = torch.from_numpy(np.round(rng.normal(size=(y.size, 3)) * 2) / 2).to(dtype)
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 60)
    got = streamed_verification_report(StreamedPairs(z, y, name), FARS)
    g, m = _naive_pairs(z, y, name)
    assert np.unique(np.concatenate([g, m])).size < 0.7 * (g.size + m.size)  # ties
    _assert_same_report(got, verification_report(g, m, fars=FARS))
    scores = -np.concatenate([g, m])
    truth = np.r_[np.ones(g.size), np.zeros(m.size)]
    assert got.roc_auc == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
    fpr, tpr, _ = sk_roc_curve(truth, scores, drop_intermediate=False)
    np.testing.assert_array_equal(got.curve.far, fpr)  # fewer than 1,000 values: all points
    np.testing.assert_array_equal(got.curve.tar, tpr)
    # EER as defined: the first point with FAR >= FRR, interpolated with the one before it
    gap = (1 - tpr) - fpr
    k = int(np.argmax(gap <= 0))
    alpha = gap[k - 1] / (gap[k - 1] - gap[k]) if gap[k - 1] > gap[k] else 1.0
    assert got.eer == pytest.approx(fpr[k - 1] + alpha * (fpr[k] - fpr[k - 1]), abs=1e-12)


def test_every_chunk_counts(monkeypatch, make_clusters):
    """Several blocks of pairs run (BLOCK_ELEMENTS far below N * N): each is counted once, and
    the ranks the curve reads (more than a thousand) match the full sort."""
    z, y = make_clusters(n_classes=5, per_class=40, dim=6)
    z = z.float()
    blocks = []
    pair_blocks = streamed.pair_blocks

    def counting(*a, **k):
        for g, m in pair_blocks(*a, **k):
            blocks.append(g.size + m.size)
            yield g, m

    monkeypatch.setattr(streamed, "pair_blocks", counting)
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 3000)
    pairs = StreamedPairs(z, y)
    got = streamed_verification_report(pairs)
    n = z.shape[0]
    per_pass = -(-n // common.row_chunk(n))
    assert per_pass > 3 and len(blocks) >= 3 * per_pass  # genuine, counts, ranks
    assert sum(blocks[:per_pass]) == n * (n - 1) // 2
    assert (pairs.n_genuine, pairs.n_impostor) == (5 * 40 * 39 // 2, n * (n - 1) // 2 - 3900)
    pd = all_pair_distances(z, y)
    _assert_same_report(got, verification_report(pd.genuine, pd.impostor))


def test_verification_from_embeddings_streams_above_stream_pairs(monkeypatch, make_clusters):
    z, y = make_clusters(n_classes=6, per_class=30, dim=8)
    in_memory = verification.verification_from_embeddings(z, y, "cosine")
    built = []
    monkeypatch.setattr(
        verification, "StreamedPairs", lambda *a: built.append(1) or StreamedPairs(*a)
    )
    monkeypatch.setattr(verification, "STREAM_PAIRS", 180 * 179 // 2 - 1)
    _assert_same_report(verification.verification_from_embeddings(z, y, "cosine"), in_memory)
    assert built == [1]
    # a sample of pairs stays the seeded sample it was
    sampled = verification.verification_from_embeddings(z, y, max_pairs=500, seed=3)
    assert built == [1] and sampled.n_genuine + sampled.n_impostor == 500


def test_streaming_does_not_hold_the_impostor_distances(monkeypatch, make_clusters):
    z, y = make_clusters(n_classes=150, per_class=20, dim=4)
    z = z.float()
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 50_000)
    monkeypatch.setattr(rank_select, "FIRST_BINS", 1 << 16)
    monkeypatch.setattr(rank_select, "REFINE_CELLS", 1 << 16)

    def peak_of(run) -> int:
        tracemalloc.start()
        try:
            run()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    pairs = StreamedPairs(z, y)
    held = 4 * pairs.n_impostor  # bytes of the impostor distances as float32
    streamed_peak = peak_of(lambda: streamed_verification_report(StreamedPairs(z, y)))
    pd_peak = peak_of(lambda: verification_report(*all_pair_distances(z, y)))
    assert held > 15_000_000 and streamed_peak < held / 2 and pd_peak > 2 * held


def test_streamed_errors_match_the_in_memory_ones():
    z = torch.randn(6, 3)
    with pytest.raises(ValueError, match="both genuine and impostor pairs, got 15 genuine and 0"):
        StreamedPairs(z, [1] * 6)
    with pytest.raises(ValueError, match="got 0 genuine and 15 impostor"):
        StreamedPairs(z, list(range(6)))
    with pytest.raises(ValueError, match=r"far must be a rate in \[0, 1\], got 2.0"):
        streamed_verification_report(StreamedPairs(z, [0, 0, 0, 1, 1, 1]), fars=(2.0,))


# float16 too: a distance object may return half-precision blocks, which StreamedPairs keeps
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_rank_selector_equals_a_full_sort(dtype):
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            rng.normal(size=20_000) * 1e3,
            np.round(rng.normal(size=20_000), 1),  # ties
            [0.0, -0.0, 0.0, 1e-30, -1e-30],
        ]
    ).astype(dtype)
    x = x[rng.permutation(x.size)]
    chunks = lambda: (x[i : i + 3001] for i in range(0, x.size, 3001))  # noqa: E731
    sel = RankSelector(x.dtype, x.min(), x.max())
    for c in chunks():
        sel.add(c)
    ranks = np.r_[0, x.size - 1, rng.integers(0, x.size, 2000)]
    got = sel.select(ranks, chunks)
    s = np.sort(x, kind="stable")  # numpy 2.4's default float16 sort misplaces some values
    np.testing.assert_array_equal(got.values, s[ranks])
    np.testing.assert_array_equal(got.below, np.searchsorted(s, s[ranks], side="left"))
    np.testing.assert_array_equal(got.upto, np.searchsorted(s, s[ranks], side="right"))
    with pytest.raises(ValueError, match="ranks must lie in"):
        sel.select([x.size], chunks)
    assert [v.size for v in sel.select([], chunks)] == [0, 0, 0]


@pytest.mark.parametrize("kind", ["mlp", "snorm"])
def test_streamed_equals_in_memory_for_a_pair_head_and_normalised_scores(monkeypatch, kind):
    """A learned pair head, and cohort-normalised scores (negative values too), kept or not by
    shared_distance_matrices: every pass sees the in-memory path's values."""
    from siamkit.distances import MLPMetric
    from siamkit.distances.cohort import CohortNormalized
    from siamkit.evaluation import shared_distance_matrices

    torch.manual_seed(0)
    z, y = torch.randn(150, 8), np.repeat(np.arange(5), 30)
    dist = (
        MLPMetric(8) if kind == "mlp" else CohortNormalized("euclidean", torch.randn(40, 8), k=10)
    )
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 2000)
    pd = all_pair_distances(z, y, dist)
    assert kind == "mlp" or pd.impostor.min() < 0
    want = verification_report(pd.genuine, pd.impostor)
    _assert_same_report(streamed_verification_report(StreamedPairs(z, y, dist)), want)
    with shared_distance_matrices():
        _assert_same_report(streamed_verification_report(StreamedPairs(z, y, dist)), want)


class _NumpyHead:
    """A pair head (a distance object, so shared_distance_matrices keeps its blocks) whose
    values numpy allocates, so that tracemalloc sees every block it makes and every one kept."""

    name = "numpy-euclidean"

    def __init__(self) -> None:
        self.calls = 0

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.sqrt(((x.numpy() - y.numpy()) ** 2).sum(1)))

    def matrix(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        a, b = x.numpy(), y.numpy()
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return torch.from_numpy(np.sqrt(np.maximum(d2, 0)))


def test_streaming_inside_shared_distance_matrices_keeps_no_block(monkeypatch, make_clusters):
    """evaluate_embeddings verifies inside shared_distance_matrices, which kept a pair head's
    blocks up to 1 GiB: streamed, all ~N²/2 distances stayed held (N = 20,000: ~800 MB)."""
    from siamkit.evaluation import shared_distance_matrices

    z, y = make_clusters(n_classes=150, per_class=20, dim=4)
    z, head = z.float(), _NumpyHead()
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 50_000)
    monkeypatch.setattr(rank_select, "FIRST_BINS", 1 << 16)
    monkeypatch.setattr(rank_select, "REFINE_CELLS", 1 << 16)
    monkeypatch.setattr(verification, "STREAM_PAIRS", 1000)
    pd = all_pair_distances(z, y, head)
    want = verification_report(pd.genuine, pd.impostor)
    held = 4 * (pd.genuine.size + pd.impostor.size)  # bytes of all the pair distances
    del pd
    with shared_distance_matrices():
        tracemalloc.start()
        try:
            got = verification.verification_from_embeddings(z, y, head)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    _assert_same_report(got, want)
    assert held > 15_000_000 and peak < held / 2
    # blocks kept before (by the in-memory path) are still reused: the head runs no more
    with shared_distance_matrices():
        all_pair_distances(z, y, head)
        calls = head.calls
        _assert_same_report(streamed_verification_report(StreamedPairs(z, y, head)), want)
        assert head.calls == calls
