"""The report's new parts: per-class metrics, failure pairs, operating point, header, config, peers."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from siamkit.distances import get_distance
from siamkit.evaluation import evaluate_embeddings, write_report
from siamkit.evaluation.failures import failure_pairs
from siamkit.evaluation.peers import peer_figures, record_peers
from siamkit.evaluation.per_class import knn_predictions, per_class_report, scores_from_confusion
from siamkit.evaluation.plots import plot_roc_det, plot_training_curves
from siamkit.evaluation.report_sections import prune_config


def naive_knn(z: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Leave-one-out majority vote of the k nearest; ties go to the class met first."""
    out = []
    for i in range(len(z)):
        d = np.linalg.norm(z - z[i], axis=1)
        d[i] = np.inf
        nn = np.argsort(d, kind="stable")[:k]
        counts: dict[int, int] = {}
        for j in nn:
            counts[int(y[j])] = counts.get(int(y[j]), 0) + 1
        top = max(counts.values())
        out.append(next(int(y[j]) for j in nn if counts[int(y[j])] == top))
    return np.array(out)


def test_knn_matches_a_naive_loop_and_scores_match_sklearn(make_clusters):
    z, y = make_clusters(n_classes=4, per_class=25, dim=3, spread=1.5)
    z = z.float()
    pred = knn_predictions(z, torch.as_tensor(y), get_distance("euclidean"), 5)
    np.testing.assert_array_equal(pred, naive_knn(z.numpy(), np.asarray(y), 5))
    rep = per_class_report(z, y, k=5)
    cm = confusion_matrix(y, pred)
    np.testing.assert_array_equal(rep.knn.confusion, cm)
    p, r, f, _ = precision_recall_fscore_support(y, pred, zero_division=0)
    np.testing.assert_allclose(rep.knn.precision, p)
    np.testing.assert_allclose(rep.knn.recall, r)
    np.testing.assert_allclose(rep.knn.f1, f)
    assert rep.knn.accuracy == pytest.approx(np.mean(pred == np.asarray(y)))


def test_prototype_confusion_counts_every_query_of_every_draw():
    z = torch.cat([torch.randn(12, 4) * 0.1 + 5 * c for c in range(3)])
    y = [c for c in range(3) for _ in range(12)]
    rep = per_class_report(z, y, k_shot=5, draws=4)
    assert rep.prototype.confusion.sum() == 4 * (36 - 15)
    assert np.array_equal(rep.prototype.confusion, np.diag(np.diag(rep.prototype.confusion)))
    bad = scores_from_confusion("x", np.array([[0, 2], [0, 3]]))
    np.testing.assert_allclose(bad.precision, [0.0, 0.6])  # an empty column: 0, not NaN
    with pytest.raises(ValueError, match="more than k_shot"):
        per_class_report(torch.cat([z[:4], z[12:16]]), [0] * 4 + [1] * 4, k_shot=5)


def test_failure_pairs_match_brute_force(make_clusters, monkeypatch):
    monkeypatch.setattr("siamkit.evaluation._common.BLOCK_ELEMENTS", 300)  # many row blocks
    z, y = make_clusters(n_classes=3, per_class=20, dim=3, spread=2.0)
    z, y = z.float(), np.asarray(y)
    f = failure_pairs(z, y, n=6)
    d = torch.cdist(z, z).numpy()
    i, j = np.triu_indices(len(y), 1)
    dist, same = d[i, j], y[i] == y[j]
    imp = np.sort(dist[~same])[:6]
    gen = np.sort(dist[same])[::-1][:6]
    np.testing.assert_allclose([p.distance for p in f.closest_impostors], imp, rtol=1e-4)
    np.testing.assert_allclose([p.distance for p in f.farthest_genuine], gen, rtol=1e-4)
    for p in f.closest_impostors:
        assert p.i < p.j and y[p.i] != y[p.j]
        assert d[p.i, p.j] == pytest.approx(p.distance, rel=1e-4)
    assert all(y[p.i] == y[p.j] for p in f.farthest_genuine)


def test_prune_config_keeps_what_ran_and_drops_what_did_not():
    cfg = {
        "eval": {"episodes": 100, "score_norm": "none", "cohort_size": 2000, "ways": None},
        "optim": {"optimizer": "adam", "momentum": 0.9, "schedule": "constant",
                  "warmup_fraction": 0.15},
        "model": {"appearance_skip_weight": 0.0, "appearance_skip_pool": 7, "distance": "cosine",
                  "metric_hidden": 64},
        "loss": {"kind": "triplet", "temperature": 0.1, "ms_alpha": 2.0, "margin": 0.2},
    }  # fmt: skip
    out = prune_config(cfg)
    assert out["eval"] == {"episodes": 100, "score_norm": "none"}
    assert out["optim"] == {"optimizer": "adam", "schedule": "constant"}
    assert out["model"] == {"appearance_skip_weight": 0.0, "distance": "cosine"}
    assert out["loss"] == {"kind": "triplet", "margin": 0.2}
    on = prune_config({"eval": {"score_norm": "snorm", "cohort_size": 2000}})
    assert on["eval"]["cohort_size"] == 2000


def test_roc_far_axis_is_logarithmic_and_shows_the_tar_at_far_points(clusters):
    z, y = clusters
    ver = evaluate_embeddings(z, y, few_shot=(), retrieval=False).verification
    fig = plot_roc_det(ver, mark=(0.05, 0.8, "model's threshold"))
    roc, det = fig.axes
    assert roc.get_xscale() == "log" and det.get_title().startswith("DET")
    lo, hi = roc.get_xlim()
    for far in ver.tar_at_far:
        assert lo <= far <= hi
    assert "model's threshold" in [line.get_label() for line in roc.lines]


def test_training_curves_give_each_quantity_its_own_axis():
    hist = [{"epoch": e, "loss": 1 / e, "val_metric": 0.2 * e, "spread": 0.4, "lr": 0.1}
            for e in (1, 2, 3)]  # fmt: skip
    fig = plot_training_curves(hist, {"val_metric": "validation P@1"})
    labelled = [ax for ax in fig.axes if ax.lines]
    assert [ax.get_ylabel() for ax in labelled] == [
        "training loss",
        "embedding spread",
        "validation P@1",
    ]
    assert all(len(ax.lines) == 1 for ax in labelled)


def test_peer_figures_take_the_best_recipe_per_metric(tmp_path):
    path = tmp_path / "peers.json"
    rows = {
        "a": [{"1-shot": 0.70, "EER": 0.20, "train s": 10.0}, {"1-shot": 0.72, "EER": 0.22, "train s": 9.0}],
        "b": [{"1-shot": 0.60, "EER": 0.18, "train s": 5.0}],
    }  # fmt: skip
    record_peers(rows, "fashion-mnist", (5, 4, 3, 2, 1, 0), [0, 1], "bench", "2026-12-02", path)
    got = peer_figures("fashion-mnist", (0, 1, 2, 3, 4, 5), path)
    assert got["metrics"] == {"1-shot": pytest.approx(0.71), "EER": pytest.approx(0.18)}
    assert (
        "train s"
        not in json.loads(path.read_text())["splits"]["0,1,2,3,4,5"]["recipes"]["a"]["mean"]
    )
    assert peer_figures("fashion-mnist", (0, 1), path) is None
    assert peer_figures("digits", (0, 1, 2, 3, 4, 5), path) is None


def test_the_demo_reads_its_peer_figures_from_the_shipped_file():
    from siamkit.cli import demo

    shipped = peer_figures("fashion-mnist", (0, 1, 2, 3, 4, 5))
    assert shipped is not None and shipped["metrics"] == demo.PEER_BEST
    # BENCHMARKS.md, "The PML peer on the main split re-measured" (3 seeds, 2026-12-05)
    assert shipped["metrics"]["EER"] == pytest.approx(0.1985)
    assert shipped["metrics"]["MRR"] == pytest.approx(0.9567)
    text = demo.summary({"verification": {"eer": 0.1}}, demo.PEER_BEST)
    assert "best PML peer" in text and f"{0.1985:.3f}" in text


@pytest.fixture(scope="module")
def page(digits, tmp_path_factory):
    z, y = digits
    z, y = z[:300], np.asarray(y[:300])
    images = z.reshape(-1, 1, 8, 8)
    rep = evaluate_embeddings(z, y, few_shot=((4, 1),), episodes=30)
    path = tmp_path_factory.mktemp("r") / "report.html"
    write_report(
        path, rep, z, y, images=images, class_names=[f"digit {i}" for i in range(10)],
        config={"eval": {"episodes": 100, "score_norm": "none", "cohort_size": 2000}},
        calibration={"threshold": 1.2345, "target": "eer",
                     "test": {"tar": 0.8123, "far": 0.0456, "balanced_accuracy": 0.88}},
        run_info={"train_images": 54321, "train_seconds": 61.0, "eval_seconds": 9.0,
                  "device": "cpu", "hardware": "Linux x86_64, 2 CPU cores"},
        peers={"label": "PML peer", "source": "from peers.json",
               "metrics": {"1-shot": 0.5, "EER": 0.25}},
    )  # fmt: skip
    return path.read_text()


def test_report_shows_the_operating_point_header_and_peer(page):
    assert "Operating point the model ships with" in page
    for value in ("1.2345", "0.8123", "0.0456"):
        assert value in page
    assert "trained on 54,321 images" in page and "training 61 s wall time" in page
    assert "Linux x86_64, 2 CPU cores" in page
    assert "Against the peer" in page and "<td>PML peer</td>" in page and "0.250" in page


def test_report_config_is_what_ran_without_irrelevant_keys(page):
    config = re.search(r"<section id='config'>.*?<pre>(.*?)</pre>", page, re.S).group(1)
    assert "episodes: 100" in config and "cohort_size" not in config


def test_report_has_per_class_and_failure_sections(page):
    assert "<section id='per-class'>" in page and "<section id='failures'>" in page
    assert "digit 7" in page  # class names in the per-class table
    for fig in ("fig-confusion", "fig-impostors", "fig-genuine", "fig-roc"):
        assert f"<figure id='{fig}'>" in page


@pytest.mark.parametrize(
    ("trained_on", "pairs", "fit"),
    [
        (False, False, "fit on validation data of other classes, never on these"),
        (True, False, "fit on validation data, and the model trained on evaluated classes: these "
         "rates are not those of unseen classes"),
        ("validation", False, "fit on validation pairs of its run's validation classes "
         "(data.val_classes: not trained on), which include evaluated classes: these rates are "
         "optimistic for unseen classes"),
        (None, False, "fit on its run's validation data; whether that run trained or validated "
         "on these classes is not known"),
        (None, True, "fit on its run's validation data; whether that run trained or validated "
         "on these pairs is not known"),
    ],
)  # fmt: skip
def test_operating_point_calls_classes_unseen_only_when_they_are(trained_on, pairs, fit):
    """The sentence said 'fit on validation data of the training classes, never on these' of
    evaluated classes that were the run's validation classes (data.val_classes), which the
    threshold was fit on; each state now has a sentence true whichever way the run validated."""
    from siamkit.evaluation.report_sections import operating_point_html

    text = operating_point_html({"threshold": 0.5, "test": {"tar": 0.9}}, trained_on, pairs)
    on = "the listed pairs" if pairs else "the evaluated classes' pairs"
    sentence = (
        f"<p>The decision threshold saved with the model ({fit}) and the true / false accept "
        f"rates it gives on {on}.</p>"
    )
    assert sentence in text, text
    assert ("never on these" in text) is (trained_on is False)  # unseen only when they are
