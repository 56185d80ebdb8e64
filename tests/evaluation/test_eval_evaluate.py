"""evaluate_embeddings bundles the sections and writes the DESIGN §3 metric keys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from siamkit.evaluation import (
    evaluate_embeddings,
    few_shot_episodes,
    retrieval_metrics,
    verification_from_embeddings,
)


@pytest.fixture(scope="module")
def report(digits):
    z, y = digits
    return evaluate_embeddings(z[:800], y[:800], "cosine", episodes=200, seed=3)


def test_design_keys_exist(report):
    d = json.loads(json.dumps(report.to_dict()))
    v, fs, r = d["verification"], d["few_shot"], d["retrieval"]
    for key in ("roc_auc", "eer", "threshold"):
        assert isinstance(v[key], float)
    assert set(v["tar_at_far"]) == {"0.01", "0.001"}
    assert set(fs) == {"4way1shot", "4way5shot"}
    for key in ("accuracy", "ci95"):
        assert isinstance(fs["4way1shot"][key], float)
    assert isinstance(r["precision_at_1"], float) and isinstance(r["map_at_r"], float)
    assert set(r["recall_at_k"]) == {"1", "5", "10"}
    assert d["data"] == {"distance": "cosine", "n_items": 800, "n_classes": 10, "seed": 3}


def test_sections_equal_the_individual_functions(report, digits):
    z, y = digits
    z, y = z[:800], y[:800]
    assert report.verification.roc_auc == verification_from_embeddings(z, y, "cosine").roc_auc
    one = few_shot_episodes(z, y, 4, 1, episodes=200, seed=3, distance="cosine")
    assert report.few_shot["4way1shot"].accuracy == one.accuracy
    assert report.retrieval.map_at_r == retrieval_metrics(z, y, "cosine").map_at_r
    assert report.few_shot["4way5shot"].accuracy > report.few_shot["4way1shot"].accuracy


def test_flat_keys_and_primary_metric(report):
    flat = report.flat()
    assert flat["few_shot.4way1shot.ci95"] == report.few_shot["4way1shot"].ci95
    assert flat["verification.tar_at_far.0.001"] == report.verification.tar_at_far[1e-3]
    assert report.primary_metric == "retrieval.map_at_r"
    assert report.primary_value == report.retrieval.map_at_r


def test_sections_can_be_skipped(make_clusters):
    z, y = make_clusters()
    rep = evaluate_embeddings(z, y, few_shot=((3, 2),), episodes=20, retrieval=False)
    assert set(rep.to_dict()) == {"verification", "few_shot", "data"}
    assert rep.primary_metric == "few_shot.3way2shot.accuracy"
    rep = evaluate_embeddings(z, y, few_shot=(), retrieval=False)
    assert rep.primary_metric == "verification.roc_auc"
    empty = evaluate_embeddings(z, y, few_shot=(), retrieval=False, verification=False)
    with pytest.raises(ValueError, match="no metrics"):
        _ = empty.primary_metric


def test_string_labels_and_numpy_input(make_clusters):
    z, y = make_clusters()
    names = np.array(["w", "x", "y", "z"])[y]
    a = evaluate_embeddings(z.numpy(), names, few_shot=((4, 1),), episodes=30)
    b = evaluate_embeddings(z, y, few_shot=((4, 1),), episodes=30)
    assert a.to_dict() == b.to_dict()


def test_learned_distance_objects_work_end_to_end(make_clusters):
    from siamkit.distances import MahalanobisDistance

    z, y = make_clusters(n_classes=5, per_class=20, dim=6)
    metric = MahalanobisDistance(6)  # identity at init: equals squared/plain Euclidean ranking
    rep = evaluate_embeddings(z.float(), y, metric, few_shot=((4, 1),), episodes=30)
    ref = evaluate_embeddings(z.float(), y, "euclidean", few_shot=((4, 1),), episodes=30)
    assert rep.distance == "mahalanobis"
    assert rep.verification.roc_auc == pytest.approx(ref.verification.roc_auc, abs=1e-6)
    assert rep.retrieval.map_at_r == pytest.approx(ref.retrieval.map_at_r, abs=1e-6)
    assert rep.few_shot["4way1shot"].accuracy == pytest.approx(
        ref.few_shot["4way1shot"].accuracy, abs=0.02
    )


def test_one_number_where_a_list_is_meant_is_refused_before_any_section_runs(monkeypatch):
    import siamkit.evaluation.evaluate as ev
    from siamkit.evaluation import recall_at_k, tar_at_far

    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(40, 4)).astype(np.float32), np.arange(40) % 4

    def no_section(*args, **kwargs):
        raise AssertionError("a section ran before the arguments were checked")

    for name in ("verification_from_embeddings", "few_shot_episodes", "retrieval_metrics"):
        monkeypatch.setattr(ev, name, no_section)
    with pytest.raises(TypeError, match=r"^ks takes a list of values, e.g. ks=\(1, 5\), got 5$"):
        evaluate_embeddings(z, y, ks=5)
    with pytest.raises(TypeError, match=r"^fars takes a list .*got 0.01$"):
        evaluate_embeddings(z, y, fars=0.01)
    with pytest.raises(TypeError, match=r"^few_shot takes \(n_way, k_shot\) pairs.*got \(4, 1\)$"):
        evaluate_embeddings(z, y, few_shot=(4, 1))
    with pytest.raises(TypeError, match=r"^fars takes a list .*got 0.01$"):
        tar_at_far([0.1, 0.3], [0.2, 0.9], 0.01)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^ks takes a list .*got 5$"):
        recall_at_k(z, y, ks=5)  # type: ignore[arg-type]


def test_the_embeddings_are_checked_for_nan_once_not_per_section(digits, monkeypatch):
    """evaluate_embeddings checks z for NaN / inf once; its sections (the verification pairs,
    each few-shot setting and its episodes, retrieval) took it through the same full check
    again: 7 passes in all with the default two settings (5 with one), each a pass over a
    4,544-wide z for the SSL taps. A tensor that is not z, or z changed since, is still checked,
    and the figures are those of each section alone."""
    import torch

    z, y = digits
    z, y = z[:300].clone(), y[:300]
    alone = (
        verification_from_embeddings(z, y).to_dict(),
        few_shot_episodes(z, y, 4, 1, episodes=20).to_dict(),
        retrieval_metrics(z, y).to_dict(),
    )
    shapes = []
    isfinite = torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: shapes.append(tuple(t.shape)) or isfinite(t))
    rep = evaluate_embeddings(z, y, few_shot=((4, 1),), episodes=20)
    assert shapes.count(tuple(z.shape)) == 1
    assert rep.verification is not None and rep.retrieval is not None
    assert (rep.verification.to_dict(), rep.retrieval.to_dict()) == (alone[0], alone[2])
    assert rep.few_shot["4way1shot"].to_dict() == alone[1]
    from siamkit.evaluation._common import as_embeddings, checked_embeddings

    bad = z.clone()
    bad[0, 0] = float("nan")
    with checked_embeddings(z):
        with pytest.raises(ValueError, match="NaN or inf"):
            as_embeddings(bad)  # another tensor
        z[0, 0] = float("inf")  # z changed since it was checked
        with pytest.raises(ValueError, match="NaN or inf"):
            as_embeddings(z)


def test_require_gives_a_computed_section_and_names_a_skipped_one() -> None:
    # report.verification is Optional, so report.verification.eer fails a user's mypy --strict;
    # require_verification / require_retrieval give the section typed without None
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(40, 8)).astype(np.float32), np.arange(40) % 4
    full = evaluate_embeddings(z, y, few_shot=())
    assert full.require_verification() is full.verification
    assert full.require_retrieval() is full.retrieval
    skipped = evaluate_embeddings(z, y, few_shot=(), verification=False, retrieval=False)
    for section, require in (
        ("verification", skipped.require_verification),
        ("retrieval", skipped.require_retrieval),
    ):
        with pytest.raises(ValueError) as err:
            require()
        assert str(err.value) == (
            f"this report has no {section} section (evaluate_embeddings skips it for "
            f"{section}=False, and a report built by hand may leave it out): ask for it, or "
            f"check report.{section} is not None first"
        )
