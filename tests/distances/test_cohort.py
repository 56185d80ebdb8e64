"""Cohort score normalisation (adaptive S-norm, CSLS) against naive loops, and where it helps."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from siamkit.distances import CohortNormalized, MahalanobisDistance, get_distance
from siamkit.distances.functional import euclidean_matrix
from siamkit.evaluation import evaluate_embeddings


def naive(x: np.ndarray, y: np.ndarray, cohort: np.ndarray, k: int, method: str) -> np.ndarray:
    """The formulas written out with loops, Euclidean base distance."""

    def stats(v: np.ndarray) -> tuple[float, float]:
        ds = sorted(math.dist(v, c) for c in cohort)[:k]
        mean = sum(ds) / k
        sd = math.sqrt(sum((d - mean) ** 2 for d in ds) / (k - 1)) if k > 1 else 0.0
        return mean, sd

    out = np.zeros((len(x), len(y)))
    for i, a in enumerate(x):
        ma, sa = stats(a)
        for j, b in enumerate(y):
            mb, sb = stats(b)
            d = math.dist(a, b)
            if method == "csls":
                out[i, j] = 2 * d - ma - mb
            else:
                out[i, j] = 0.5 * ((d - ma) / sa + (d - mb) / sb)
    return out


@pytest.mark.parametrize("method", ["snorm", "csls"])
@pytest.mark.parametrize("k", [2, 5, 30])
def test_matrix_and_pairwise_match_the_naive_loops(method: str, k: int) -> None:
    g = torch.Generator().manual_seed(k)
    x, y, cohort = (torch.randn(n, 6, generator=g, dtype=torch.float64) for n in (7, 9, 30))
    dist = CohortNormalized("euclidean", cohort, k=k, method=method)
    want = naive(x.numpy(), y.numpy(), cohort.numpy(), k, method)
    got = dist.matrix(x.double(), y.double()).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    pw = dist.pairwise(x.double(), y[:7].double()).numpy()
    np.testing.assert_allclose(pw, np.diag(want[:, :7]), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dist.matrix(y, x).numpy(), got.T, rtol=1e-6)  # symmetric


def test_cohort_stats_in_chunks_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import siamkit.distances.cohort as mod

    g = torch.Generator().manual_seed(0)
    x, cohort = torch.randn(50, 4, generator=g), torch.randn(40, 4, generator=g)
    dist = CohortNormalized("cosine", cohort, k=10)
    whole = dist.cohort_stats(x)
    monkeypatch.setattr(mod, "_CHUNK_ELEMENTS", 40 * 3)  # three rows at a time
    chunked = dist.cohort_stats(x)
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(a, b)
    near = get_distance("cosine").matrix(x, cohort).sort(1).values[:, :10]
    torch.testing.assert_close(whole[0], near.mean(1))


def test_learned_base_distance_and_name() -> None:
    metric = MahalanobisDistance(4)
    with torch.no_grad():
        metric.L.mul_(2.0)
    cohort = torch.randn(20, 4)
    dist = CohortNormalized(metric, cohort, k=5, method="csls")
    x = torch.randn(3, 4)
    d = metric.matrix(x, x)
    r = metric.matrix(x, cohort).topk(5, largest=False).values.mean(1)
    torch.testing.assert_close(dist.matrix(x, x), 2 * d - r[:, None] - r[None, :])
    assert dist.name == "mahalanobis+csls"
    # the learned metric is not registered a second time (a model would save its weights twice)
    assert [n for n, _ in dist.named_parameters()] == []
    assert [n for n, _ in dist.named_buffers()] == ["cohort"]


def test_snorm_evens_out_classes_of_different_spread() -> None:
    """A tight class and a loose one: one global threshold on raw distances cannot serve both;
    judged against a cohort drawn from the same population, it can."""
    g = torch.Generator().manual_seed(0)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        centres = torch.randn(8, 16, generator=g) * 1.5
        spread = torch.tensor([0.3, 0.3, 0.3, 0.3, 1.5, 1.5, 1.5, 1.5])
        y = torch.arange(8).repeat_interleave(n)
        return centres[y] + torch.randn(len(y), 16, generator=g) * spread[y, None], y

    z, y = draw(40)
    cohort, _ = draw(40)  # other items (and other classes) of the same kind
    raw = evaluate_embeddings(z, y, "euclidean", few_shot=(), retrieval=False)
    normed = evaluate_embeddings(
        z, y, CohortNormalized("euclidean", cohort, k=50), few_shot=(), retrieval=False
    )
    assert normed.verification.roc_auc > raw.verification.roc_auc + 0.02  # 0.914 -> 0.958
    assert normed.verification.eer < raw.verification.eer - 0.03  # 0.178 -> 0.110
    # and the evaluation's ROC AUC is sklearn's on the same normalised scores
    d = CohortNormalized("euclidean", cohort, k=50).matrix(z, z).numpy()
    iu = np.triu_indices(len(y), 1)
    same = (y.numpy()[:, None] == y.numpy()[None, :])[iu]
    assert normed.verification.roc_auc == pytest.approx(roc_auc_score(same, -d[iu]), abs=1e-6)
    assert normed.distance == "euclidean+snorm"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "znorm"}, "unknown score normalisation 'znorm'"),
        ({"k": 11}, "k must be an integer from 2 to the cohort size 10"),
        ({"k": 1}, "k must be an integer from 2"),
        ({"cohort": torch.zeros(0, 4)}, "non-empty"),
        ({"cohort": torch.full((10, 4), float("nan"))}, "NaN"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    args = {"base": "euclidean", "cohort": torch.randn(10, 4), "k": 3, "method": "snorm"} | kwargs
    with pytest.raises(ValueError, match=message):
        CohortNormalized(**args)


def test_wrong_embedding_size_is_refused() -> None:
    dist = CohortNormalized("euclidean", torch.randn(10, 4), k=3)
    with pytest.raises(ValueError, match="do not match the cohort's dimension 4"):
        dist.matrix(torch.randn(2, 5), torch.randn(2, 5))


def test_memoized_statistics_equal_computed_ones_and_nest() -> None:
    g = torch.Generator().manual_seed(1)
    z, cohort, other = (
        torch.randn(30, 5, generator=g),
        torch.randn(25, 5, generator=g),
        torch.randn(4, 5, generator=g),
    )
    dist = CohortNormalized("euclidean", cohort, k=6)
    x = torch.cat([z[[3, 0, 7]], other, z[:2].mean(0, keepdim=True)])  # hits, misses, a mean
    want = dist.cohort_stats(x)
    with dist.memoized(z):
        with dist.memoized(z.detach()):  # the same data: reused, and the outer memo survives
            pass
        assert dist._memo is not None
        got = dist.cohort_stats(x)
        with dist.memoized(other):  # another set inside: its own memo, then the outer one again
            torch.testing.assert_close(dist.cohort_stats(other)[0], want[0][3:7])
        torch.testing.assert_close(dist.cohort_stats(z[:3])[0], dist._stats(z[:3])[0])
    assert dist._memo is None
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


def test_evaluation_with_the_memo_equals_a_plain_episode_loop() -> None:
    from siamkit.evaluation.few_shot import sample_episodes

    g = torch.Generator().manual_seed(2)
    y = torch.arange(4).repeat_interleave(30)
    z = torch.randn(4, 8, generator=g)[y] + torch.randn(120, 8, generator=g)
    dist = CohortNormalized("euclidean", torch.randn(50, 8, generator=g), k=10)
    rep = evaluate_embeddings(z, y, dist, few_shot=((4, 1), (4, 5)), episodes=40, retrieval=False)
    for k in (1, 5):
        eps = sample_episodes(y, 4, k, 15, 40, seed=0)
        acc = []
        for sup, qry in zip(eps.support, eps.query):
            protos = z[sup].mean(1)  # (N, D)
            pred = dist.matrix(z[qry.flatten()], protos).argmin(1)  # no memo here
            acc.append((pred == torch.arange(4).repeat_interleave(15)).double().mean().item())
        assert rep.few_shot[f"4way{k}shot"].accuracy == pytest.approx(np.mean(acc), abs=1e-12)


def _cohort_widenings(monkeypatch: pytest.MonkeyPatch, cohort_shape: tuple[int, ...]) -> list[int]:
    """Counts the float64 copies made of tensors of the cohort's shape (the queries have fewer
    rows), through ``Tensor.double``, which the widening (``Widened.rows``,
    ``sqeuclidean_matrix``) and the kept copy both make them with."""
    made: list[int] = []
    double = torch.Tensor.double

    def counting(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if tuple(self.shape) == cohort_shape:
            made.append(1)
        return double(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "double", counting)
    return made


def _stats_widened_per_call(x: torch.Tensor, cohort: torch.Tensor, k: int) -> torch.Tensor:
    """Each row's cohort mean and spread as before they were kept: the cohort widened afresh
    (no ``widened_once``), the k nearest by ``topk``. ``(2, N)``."""
    near = euclidean_matrix(x, cohort).topk(k, dim=1, largest=False).values
    return torch.stack([near.mean(1), near.std(1).clamp_min(1e-6)])


def _prototypes(seed: int, n: int = 12, dim: int = 16) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(5, 5, dim, generator=g).mean(0) for _ in range(n)]  # means: no memo


def test_the_cohort_is_widened_once_across_calls_with_the_same_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # S-norm evaluation asks for the statistics of each 5-shot episode's prototypes, 1,001 calls;
    # each widened the whole cohort to float64 again (s54_c7: 1.25x the CPU time of before).
    g = torch.Generator().manual_seed(3)
    cohort = torch.randn(60, 16, generator=g)
    xs = _prototypes(4)
    want = [_stats_widened_per_call(x, cohort, 7) for x in xs]
    dist = CohortNormalized("euclidean", cohort, k=7)
    made = _cohort_widenings(monkeypatch, (60, 16))
    got = [torch.stack(dist.cohort_stats(x)) for x in xs]
    with torch.inference_mode():  # as the index asks for them
        got += [torch.stack(dist.cohort_stats(x)) for x in xs[:3]]
    scored = dist.matrix(xs[0], xs[1])
    assert len(made) == 1
    for a, b in zip(got, want + want[:3]):
        assert torch.equal(a, b)  # bit for bit
    d = euclidean_matrix(xs[0], xs[1])
    (mx, sx), (my, sy) = want[0], want[1]
    assert torch.equal(scored, 0.5 * ((d - mx[:, None]) / sx[:, None] + (d - my) / sy))


def test_a_replaced_changed_or_loaded_cohort_is_widened_again() -> None:
    g = torch.Generator().manual_seed(5)
    first, second, third = (torch.randn(40, 16, generator=g) for _ in range(3))
    x = _prototypes(6, n=1)[0]
    dist = CohortNormalized("euclidean", first, k=5)
    assert torch.equal(torch.stack(dist.cohort_stats(x)), _stats_widened_per_call(x, first, 5))
    dist.load_state_dict({"cohort": second})  # a saved model's cohort, copied in place
    assert torch.equal(torch.stack(dist.cohort_stats(x)), _stats_widened_per_call(x, second, 5))
    dist.cohort = third.clone()  # the buffer replaced
    assert torch.equal(torch.stack(dist.cohort_stats(x)), _stats_widened_per_call(x, third, 5))
    with torch.no_grad():
        dist.cohort[:20] = first[:20]  # changed in place
    mixed = torch.cat([first[:20], third[20:]])
    assert torch.equal(torch.stack(dist.cohort_stats(x)), _stats_widened_per_call(x, mixed, 5))
    copied = copy.deepcopy(dist)  # its own cohort: nothing kept of the original's
    assert copied._wide is None
    with torch.no_grad():
        copied.cohort.copy_(second)
    assert torch.equal(torch.stack(copied.cohort_stats(x)), _stats_widened_per_call(x, second, 5))
    assert torch.equal(torch.stack(dist.cohort_stats(x)), _stats_widened_per_call(x, mixed, 5))


def test_a_moved_cohort_lets_go_of_the_copies_kept_of_it() -> None:
    """The kept float64 copy held the cohort it was made of, so after ``model.cpu()`` (here a
    move to float64, which replaces the buffer as a device move does) the old cohort and its
    copy stayed alive, on the GPU for a model moved back, until the next score."""
    import gc
    import weakref

    g = torch.Generator().manual_seed(11)
    cohort, x = torch.randn(60, 16, generator=g), _prototypes(4, n=1)[0]
    dist = CohortNormalized("euclidean", cohort, k=5)
    dist.cohort_stats(x)
    assert dist._wide is not None
    old, wide = weakref.ref(dist.cohort), weakref.ref(dist._wide[2])
    dist.to(torch.float64)
    gc.collect()
    assert old() is None and wide() is None
    want = _stats_widened_per_call(x, cohort, 5)  # the moved cohort still scores as before
    assert torch.equal(torch.stack(dist.cohort_stats(x)), want)


def test_threads_scoring_at_once_widen_the_cohort_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    g = torch.Generator().manual_seed(7)
    cohort = torch.randn(300, 16, generator=g)
    xs = _prototypes(8, n=32)
    want = [_stats_widened_per_call(x, cohort, 9) for x in xs]
    dist = CohortNormalized("euclidean", cohort, k=9)
    made = _cohort_widenings(monkeypatch, (300, 16))
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda x: torch.stack(dist.cohort_stats(x)), xs))
    assert len(made) == 1
    for a, b in zip(got, want):
        assert torch.equal(a, b)
