"""R-precision, MAP (all ranks), MRR and clustering NMI / AMI of retrieval_metrics, against
pytorch-metric-learning's AccuracyCalculator, naive loops over each query's ranking and
scikit-learn.

Conventions shared with pytorch-metric-learning (PML): every item queries all the others, a
query alone in its class is left out of the ranking metrics, MAP is PML's
``mean_average_precision`` with ``k=None`` (every rank). NMI / AMI cluster every item, lone ones
too, into as many clusters as there are classes. They differ in the k-means only: PML runs
faiss's, siamkit scikit-learn's, seeded; given PML the same k-means, its NMI / AMI are ours.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import siamkit.evaluation._common as common
from siamkit.distances import get_distance
from siamkit.evaluation import evaluate_embeddings, retrieval_metrics
from siamkit.evaluation.report import metrics_tables

RANKED = ("r_precision", "mean_average_precision", "mean_reciprocal_rank")


def _naive(z, y, name):
    """Per query, by the definitions: rank the others by (float32 distance, index); R-precision,
    AP over every rank, 1 / rank of the first relevant item, AP over the first R ranks (MAP@R)
    and whether a relevant item is among the first 5 (Recall@5)."""
    d = get_distance(name).matrix(z, z).float().numpy()
    out = {k: [] for k in (*RANKED, "map_at_r", "recall_at_5")}
    for q in range(len(y)):
        ranked = sorted((i for i in range(len(y)) if i != q), key=lambda i: (d[q, i], i))
        rel = [y[i] == y[q] for i in ranked]
        r = sum(rel)
        if r == 0:
            continue
        out["r_precision"].append(sum(rel[:r]) / r)
        hits, total, total_r = 0, 0.0, 0.0
        for rank, hit in enumerate(rel, start=1):
            if hit:
                hits += 1
                total += hits / rank
                total_r += hits / rank if rank <= r else 0.0
        out["mean_average_precision"].append(total / r)
        out["mean_reciprocal_rank"].append(1 / (rel.index(True) + 1))
        out["map_at_r"].append(total_r / r)
        out["recall_at_5"].append(any(rel[:5]))
    return {k: float(np.mean(v)) for k, v in out.items()}


def _random(n=240, dim=8, n_classes=6, seed=0):
    """Float32 overlapping clusters plus one lone item (a query left out)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, n_classes, (n,), generator=g)
    z = 0.8 * torch.randn(n_classes, dim, generator=g)[y] + torch.randn(n, dim, generator=g)
    return torch.cat([z, torch.randn(1, dim, generator=g)]), np.r_[y.numpy(), n_classes]


@pytest.mark.parametrize("name", ["euclidean", "cosine", "manhattan"])
def test_matches_naive_loops_across_blocks_with_ties(monkeypatch, name):
    z, y = _random(n=70)
    z = torch.cat([z, z[:5], z[5:10]])  # duplicates: equally near items rank by index
    y = np.r_[y, (y[:5] + 1) % 6, y[5:10]]  # of another class, and of the same
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 300)  # blocks of 3-4 queries
    rep = retrieval_metrics(z, y, name)
    ref = _naive(z, y, name)
    for key in (*RANKED, "map_at_r"):
        assert getattr(rep, key) == pytest.approx(ref[key], abs=1e-12), key
    assert rep.recall_at_k[5] == pytest.approx(ref["recall_at_5"], abs=1e-12)
    assert rep.n_queries == 80  # the lone item is left out


def test_map_at_r_ranks_ties_as_r_precision_does():
    """Collapsed embeddings (a few distinct points): MAP@R and Recall@K rank equally near items
    by index, as R-precision does, so all read one ranking (they read topk's order before)."""
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 5, (300,), generator=g).numpy()
    z = torch.zeros(300, 3)
    z[:, 0] = torch.randint(0, 3, (300,), generator=g).float()
    rep = retrieval_metrics(z, y, ks=(1, 5, 50))
    ref = _naive(z, y, "euclidean")
    for key in (*RANKED, "map_at_r"):
        assert getattr(rep, key) == pytest.approx(ref[key], abs=1e-12), key
    assert rep.recall_at_k[5] == pytest.approx(ref["recall_at_5"], abs=1e-12)


def test_hand_case_with_a_tie():
    z = torch.tensor([[0.0], [0.1], [0.5], [1.0], [1.1]])
    rep = retrieval_metrics(z, [0, 0, 1, 1, 1], ks=(1,))
    # item 2 (R=2) ranks 1 (0.4), then 0 and 3 at 0.5 each (index order), then 4: hits at 3, 4
    assert rep.r_precision == pytest.approx((1 + 1 + 0 + 1 + 1) / 5)
    assert rep.mean_average_precision == pytest.approx((1 + 1 + (1 / 3 + 2 / 4) / 2 + 1 + 1) / 5)
    assert rep.mean_reciprocal_rank == pytest.approx((1 + 1 + 1 / 3 + 1 + 1) / 5)


def test_items_at_infinite_distance_rank_by_index_and_the_query_stays_out():
    z = torch.tensor([[-3e38], [3e38], [3e38]])  # L1 distances from item 0 overflow to inf
    rep = retrieval_metrics(z, [0, 1, 0], "manhattan", ks=(1,))
    # queries 0 and 2 (1 is alone in its class): 0 ranks 1 then 2, both at inf, by index;
    # 2 ranks 1 (at 0), then 0: each finds its one relevant item second
    assert rep.n_queries == 2
    assert rep.mean_reciprocal_rank == rep.mean_average_precision == pytest.approx(1 / 2)
    assert rep.r_precision == 0.0


class _SiamkitDistance:
    """siamkit's distance matrix for PML's ``CustomKNN``: PML ranks the very float32 values
    siamkit ranks, so only the metric definitions are compared."""

    is_inverted = False  # smaller is nearer

    def __init__(self, name):
        self.distance = get_distance(name)

    def __call__(self, query, ref):
        return self.distance.matrix(query, ref)


def _ties_free(z, name):
    """No query has two other items at the same float32 distance."""
    d = get_distance(name).matrix(z, z).fill_diagonal_(-1.0).sort(dim=1).values[:, 1:]
    return bool((d.diff(dim=1) > 0).all())


def _pml(z, y, distance):
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    logging.getLogger("PML").setLevel(logging.ERROR)
    calc = AccuracyCalculator(include=RANKED, k=None, knn_func=CustomKNN(distance))  # all ranks
    return calc.get_accuracy(z, torch.from_numpy(y))


@pytest.mark.parametrize("name", ["euclidean", "cosine", "manhattan"])
def test_matches_pytorch_metric_learning(monkeypatch, name):
    z, y = _random(n=120)
    assert _ties_free(z, name)
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 2000)  # several blocks
    ref = _pml(z, y, _SiamkitDistance(name))
    rep = retrieval_metrics(z, y, name)
    for key in RANKED:  # PML's MRR is a float32 mean
        assert getattr(rep, key) == pytest.approx(ref[key], abs=1e-6), key
    # the metrics differ from each other and from MAP@R here, so a swapped one would not pass
    assert len({round(ref[k], 3) for k in RANKED} | {round(rep.map_at_r, 3)}) == 4


@pytest.mark.parametrize("name", ["euclidean", "cosine"])
def test_matches_pytorch_metric_learning_own_distances(name):
    """With PML's own distances, whose float32 rounding differs, near ties may swap: the
    metrics agree to float32 precision."""
    from pytorch_metric_learning.distances import CosineSimilarity, LpDistance

    z, y = _random()
    ref = _pml(
        z, y, CosineSimilarity() if name == "cosine" else LpDistance(normalize_embeddings=False)
    )
    rep = retrieval_metrics(z, y, name)
    for key in RANKED:
        assert getattr(rep, key) == pytest.approx(ref[key], abs=1e-5), key


def _kmeans_scores(z, y, seed):
    """NMI and AMI of scikit-learn's k-means (k = classes, seeded, float32) against ``y``."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

    k = np.unique(y).size
    found = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(z.float().numpy())
    return normalized_mutual_info_score(y, found), adjusted_mutual_info_score(y, found)


def test_clustering_matches_sklearn_and_pml_given_the_same_kmeans():
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from sklearn.cluster import KMeans

    z, y = _random(n=400)
    rep = retrieval_metrics(z, y, clustering=True, seed=3)
    nmi, ami = _kmeans_scores(z, y, seed=3)
    assert (rep.nmi, rep.ami) == pytest.approx((nmi, ami), abs=1e-12)
    assert rep.nmi != pytest.approx(rep.ami, abs=1e-3)  # swapped scores would not pass
    assert _kmeans_scores(z, y, seed=4) != pytest.approx((nmi, ami))  # the seed is used

    def kmeans(x, k):  # PML's clustering step, with ours instead of faiss's
        found = KMeans(n_clusters=k, n_init=1, random_state=3).fit_predict(x.cpu().numpy())
        return torch.from_numpy(found)

    calc = AccuracyCalculator(
        include=("NMI", "AMI"), kmeans_func=kmeans, device=torch.device("cpu")
    )
    ref = calc.get_accuracy(z, torch.from_numpy(y))
    assert (rep.nmi, rep.ami) == pytest.approx((ref["NMI"], ref["AMI"]), abs=1e-12)


def test_new_keys_in_to_dict_evaluate_and_the_report_table():
    z, y = _random(n=120)
    plain = retrieval_metrics(z, y)
    assert plain.nmi is None and plain.ami is None
    d = plain.to_dict()
    assert set(d) == {"precision_at_1", "map_at_r", "recall_at_k", "n_queries", *RANKED}
    assert "NMI" not in metrics_tables(evaluate_embeddings(z, y, few_shot=(), verification=False))

    rep = evaluate_embeddings(z, y, few_shot=(), verification=False, clustering=True, seed=5)
    r = rep.to_dict()["retrieval"]
    assert (r["nmi"], r["ami"]) == pytest.approx(_kmeans_scores(z, y, seed=5), abs=1e-12)
    assert {k: r[k] for k in d} == d  # clustering changes none of the other values
    table = metrics_tables(rep)
    for label, value in (
        ("R-precision", r["r_precision"]),
        ("MAP (all ranks)", r["mean_average_precision"]),
        ("MRR", r["mean_reciprocal_rank"]),
        ("NMI (k-means)", r["nmi"]),
        ("AMI (k-means)", r["ami"]),
    ):
        assert f"<td>{label}</td><td class='num'>{value:.4f}</td>" in table


def test_map_at_r_with_ties_matches_pytorch_metric_learning():
    """With ties, PML's default exact search (faiss's flat L2 index) returns equally near items
    by index, the order siamkit ranks by: on integer-valued embeddings (exact float distances,
    many ties) MAP@R and R-precision agree with PML's. MAP@R read topk's order before, and did
    not (0.0805 against PML's 0.0836 on the first of these)."""
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    logging.getLogger("PML").setLevel(logging.ERROR)
    calc = AccuracyCalculator(
        include=("mean_average_precision_at_r", "r_precision"),
        k="max_bin_count",
        device=torch.device("cpu"),
    )
    rng = np.random.default_rng(1)
    for _ in range(3):
        y = rng.integers(0, 4, 200)
        z = torch.from_numpy(np.round(rng.normal(size=(200, 2))).astype(np.float32))
        ref = calc.get_accuracy(z, torch.from_numpy(y))
        rep = retrieval_metrics(z, y, ks=(1,))
        assert rep.map_at_r == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-6)
        assert rep.r_precision == pytest.approx(ref["r_precision"], abs=1e-6)


def _naive_first_ranks(z: np.ndarray, y: np.ndarray) -> list[int]:
    """By the definition, in float64: rank each query's others by (|a - b|, index); the rank of
    its first same-class item, for every query with one."""
    ranks = []
    for i in range(len(z)):
        if (y == y[i]).sum() < 2:
            continue
        order = sorted((float(np.abs(z[i] - z[j]).sum()), j) for j in range(len(z)) if j != i)
        ranks.append(next(n for n, (_, j) in enumerate(order, 1) if y[j] == y[i]))
    return ranks


def _naive_recall(z: np.ndarray, y: np.ndarray, ks: tuple[int, ...]) -> dict[int, float]:
    """Recall@K by the definition: the share of queries whose first hit is among the first K."""
    ranks = np.array(_naive_first_ranks(z, y))
    return {k: float((ranks <= k).mean()) for k in ks}


def test_recall_at_k_of_float64_near_ties_never_falls_below_p_at_1(monkeypatch):
    """Float64 embeddings nearer by 1e-12 tie in float32: Recall@K (K > 1) read the float32
    ranking, where the nearest hit went after misses of smaller index, and P@1 the float64
    argmin, so Recall@5 came out below Recall@1 (0.857 against 0.929 on the first case).
    Counting P@1's hits in Recall@K too would mend that case, not a hit second in float64 and
    tenth in float32 (the second case). Recall@K now ranks in float64, as the definition."""
    z = np.array([[0.0]] + [[1.0 + 1e-12]] * 9 + [[1.0]] + [[50.0]] * 3)
    y = np.array([0] + [1] * 9 + [0] + [2] * 3)
    rep = retrieval_metrics(z, y, "manhattan", ks=(1, 5))
    assert rep.recall_at_k == pytest.approx(_naive_recall(z, y, (1, 5)), abs=1e-12)
    assert rep.recall_at_k[5] >= rep.recall_at_k[1] == rep.precision_at_1
    z = np.array([[0.0]] + [[1.0 + 2e-12]] * 8 + [[1.0], [1.0 + 1e-12], [50.0], [50.0]])
    y = np.array([0] + [1] * 8 + [2, 0, 3, 3])  # query 0's hit: 2nd in float64, 10th in float32
    rep = retrieval_metrics(z, y, "manhattan", ks=(1, 2))
    assert rep.recall_at_k == pytest.approx(_naive_recall(z, y, (1, 2)), abs=1e-12)
    # 40 items on 6 points, some 1e-10 apart (one float32 value), 12 labels, several blocks
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 300)
    rng = np.random.default_rng(0)
    for _ in range(5):
        z = rng.integers(0, 6, (40, 1)) + 1e-10 * rng.integers(0, 20, (40, 1))
        y = rng.integers(0, 12, 40)
        rep = retrieval_metrics(z, y, "manhattan", ks=(1, 2, 3, 5))
        ref = _naive_recall(z, y, (1, 2, 3, 5))
        assert rep.recall_at_k == pytest.approx(ref, abs=1e-12)
        assert rep.recall_at_k[1] == pytest.approx(rep.precision_at_1, abs=1e-12)


def test_mrr_of_float64_near_ties_is_never_below_p_at_1():
    """MRR read the float32 ranking too: on the case above a hit nearest in float64 counted for
    P@1 and 1/10 for MRR, which came out below P@1 (0.871 against 0.929), though every query
    P@1 counts adds 1 to MRR's sum. It now reads the first hit's rank in float64."""
    z = np.array([[0.0]] + [[1.0 + 1e-12]] * 9 + [[1.0]] + [[50.0]] * 3)
    y = np.array([0] + [1] * 9 + [0] + [2] * 3)
    rep = retrieval_metrics(z, y, "manhattan", ks=(1,))
    ranks = np.array(_naive_first_ranks(z, y))
    assert rep.mean_reciprocal_rank == pytest.approx(float((1.0 / ranks).mean()), abs=1e-12)
    assert rep.mean_reciprocal_rank >= rep.precision_at_1
    rng = np.random.default_rng(1)
    for _ in range(3):
        z = rng.integers(0, 6, (40, 1)) + 1e-10 * rng.integers(0, 20, (40, 1))
        y = rng.integers(0, 12, 40)
        ranks = np.array(_naive_first_ranks(z, y))
        got = retrieval_metrics(z, y, "manhattan", ks=(1,)).mean_reciprocal_rank
        assert got == pytest.approx(float((1.0 / ranks).mean()), abs=1e-12)


def test_first_hit_at_infinite_distance_ranks_by_index_as_a_naive_loop():
    """Float64 L1 distances that overflow: every hit of each query is at inf, so the masked
    argmin took the row's first index (a miss, or the query itself) for the nearest hit and
    ranked it too early (Recall@2 1.0 and MRR 0.625 where the definition gives 0.5 and 5/12)."""
    z = np.array([[-1e308], [-1e308], [1e308], [1e308]])
    y = np.array([1, 0, 0, 1])
    rep = retrieval_metrics(z, y, "manhattan", ks=(1, 2, 3))
    with np.errstate(over="ignore"):
        ranks = np.array(_naive_first_ranks(z, y))
        ref = _naive_recall(z, y, (1, 2, 3))
    assert rep.recall_at_k == pytest.approx(ref, abs=1e-12)
    assert rep.mean_reciprocal_rank == pytest.approx(float((1.0 / ranks).mean()), abs=1e-12)
    z32 = np.array([[-3e38], [-3e38], [3e38], [3e38]], np.float32)  # float32 agrees
    assert retrieval_metrics(z32, y, "manhattan", ks=(1, 2, 3)).recall_at_k == rep.recall_at_k


def test_a_nearest_hit_at_minus_inf_keeps_rank_one():
    """A distance of a user's own that can be negative (a negative dot product) gives -inf on
    overflow: the argmin's nearest hit at -inf was taken for 'every hit at inf' and replaced by
    the first hit by index, ranked after a nearer miss (reviewer s51_R9)."""
    from siamkit.evaluation.retrieval import _first_hit_rank

    # query 0: item 1 a miss at 0, item 2 a hit at 5, item 3 a hit at -inf (the nearest)
    block = torch.tensor([[float("inf"), 0.0, 5.0, float("-inf")]], dtype=torch.float64)
    assert _first_hit_rank(block, torch.tensor([0]), torch.tensor([0, 1, 0, 0])).tolist() == [1]
