"""K-reference decisions and skilled/random FAR, FRR, EER against naive loops and scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_curve

from siamkit.applications.signatures import evaluate_signatures, reference_scores
from siamkit.applications.signatures.evaluate import signature_scores


@pytest.mark.parametrize("reduce", ["mean", "min", "max"])
def test_reference_scores_match_a_loop(reduce: str) -> None:
    q, r = torch.randn(5, 8), torch.randn(3, 8)
    got = reference_scores(q, r, "euclidean", reduce)
    agg = {"mean": np.mean, "min": np.min, "max": np.max}[reduce]
    for i in range(5):
        d = [float(np.linalg.norm(q[i].numpy() - r[k].numpy())) for k in range(3)]
        assert got[i].item() == pytest.approx(agg(d), abs=1e-5)


def test_reference_scores_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="reduce"):
        reference_scores(torch.zeros(1, 2), torch.zeros(1, 2), reduce="median")
    with pytest.raises(ValueError, match="references"):
        reference_scores(torch.zeros(1, 2), torch.zeros(0, 2))
    with pytest.raises(ValueError, match="queries"):
        reference_scores(torch.zeros(1, 3), torch.zeros(2, 2))


def _toy(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(6, 4, generator=g) * 2
    writer = torch.arange(6).repeat_interleave(10)
    forged = torch.tensor(([False] * 7 + [True] * 3) * 6)
    z = centres[writer] + 0.5 * torch.randn(60, 4, generator=g)
    z[forged] += 1.5 * torch.randn(int(forged.sum()), 4, generator=g)  # forgeries drift off
    return z, writer, forged


def _naive_scores(z, writer, forged, k, seed):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    refs, quest = {}, {}
    for w in range(6):
        gen = rng.permutation([i for i in range(60) if writer[i] == w and not forged[i]])
        refs[w], quest[w] = gen[:k], gen[k:]
    out = {"genuine": [], "skilled": [], "random": []}
    for w in range(6):

        def s(i: int, w: int = w) -> float:
            return float(np.mean([np.linalg.norm(z[i] - z[r]) for r in refs[w]]))

        out["genuine"] += [s(i) for i in quest[w]]
        out["skilled"] += [s(i) for i in range(60) if writer[i] == w and forged[i]]
        out["random"] += [s(quest[o][0]) for o in range(6) if o != w]
    return {k: np.array(v) for k, v in out.items()}


def test_scores_follow_the_protocol() -> None:
    z, writer, forged = _toy()
    got = signature_scores(z, writer, forged, n_references=3, seed=4)
    want = _naive_scores(z.numpy(), writer.numpy(), forged.numpy(), 3, 4)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5)
    assert len(got["genuine"]) == 6 * 4 and len(got["skilled"]) == 18 and len(got["random"]) == 30


def _sklearn_eer(genuine: np.ndarray, forged: np.ndarray) -> float:
    y = np.r_[np.ones(len(genuine)), np.zeros(len(forged))]
    fpr, tpr, _ = roc_curve(y, -np.r_[genuine, forged])
    fnr = 1 - tpr
    k = int(np.argmin(np.abs(fnr - fpr)))
    return float((fpr[k] + fnr[k]) / 2)


def test_eer_far_frr_against_sklearn_and_counts() -> None:
    z, writer, forged = _toy(1)
    ev = evaluate_signatures(z, writer, forged, n_references=3, threshold=1.7, seed=2)
    s = signature_scores(z, writer, forged, n_references=3, seed=2)
    n = len(s["genuine"])
    for name, r in (("skilled", ev.skilled), ("random", ev.random)):
        tol = 1.0 / min(n, len(s[name])) + 1e-9  # sklearn: nearest curve point, no interpolation
        assert r.eer == pytest.approx(_sklearn_eer(s["genuine"], s[name]), abs=tol)
        assert r.far == pytest.approx(np.mean(s[name] <= 1.7))
        assert r.frr == pytest.approx(np.mean(s["genuine"] > 1.7))
    assert ev.random.eer < ev.skilled.eer  # other writers are farther than forgeries here
    assert ev.threshold_source == "given" and ev.n_writers == 6


def test_without_threshold_the_skilled_eer_threshold_is_used() -> None:
    z, writer, forged = _toy(2)
    ev = evaluate_signatures(z, writer, forged, n_references=2)
    assert ev.threshold == pytest.approx(ev.skilled.eer_threshold)
    assert ev.skilled.far == pytest.approx(ev.skilled.eer, abs=0.1)


def test_a_kind_of_forgery_with_none_to_score_has_no_rates_in_the_dict() -> None:
    """NaN rates went into metrics.json and --json as NaN, which is not JSON."""
    z, writer, forged = _toy()
    keep = ~forged  # no skilled forgeries
    ev = evaluate_signatures(z[keep], writer[keep], forged[keep], n_references=3, threshold=1.0)
    assert ev.n_writers == ev.n_writers_evaluated == 6
    doc = ev.to_dict()
    assert doc["skilled"]["eer"] is None and doc["skilled"]["far"] is None
    assert doc["skilled"]["frr"] == pytest.approx(ev.random.frr)  # genuines alone decide it
    assert doc["random"]["eer"] == pytest.approx(ev.random.eer)
    json.dumps(doc, allow_nan=False)


def test_too_few_genuines_is_one_sentence() -> None:
    z, writer, forged = _toy()
    with pytest.raises(ValueError, match="more than 7 genuine"):
        evaluate_signatures(z, writer, forged, n_references=7)


def test_without_skilled_forgeries_the_random_eer_threshold_is_used_and_named() -> None:
    """The random EER's threshold was used and reported as "skilled EER of these scores"."""
    z, writer, forged = _toy()
    keep = ~forged
    ev = evaluate_signatures(z[keep], writer[keep], forged[keep], n_references=3)
    s = signature_scores(z[keep], writer[keep], forged[keep], n_references=3)
    y = np.r_[np.ones(len(s["genuine"])), np.zeros(len(s["random"]))]
    fpr, tpr, _ = roc_curve(y, -np.r_[s["genuine"], s["random"]])  # EER from sklearn's ROC
    assert ev.random.eer == pytest.approx(fpr[np.argmin(np.abs(fpr - (1 - tpr)))], abs=0.05)
    assert ev.threshold == pytest.approx(ev.random.eer_threshold)
    assert ev.threshold_source == "random EER of these scores"
    assert (
        evaluate_signatures(z, writer, forged, 3).threshold_source == "skilled EER of these scores"
    )


def test_no_forgery_of_either_kind_without_a_threshold_is_one_sentence() -> None:
    """One writer and no skilled forgeries: the EER's 'verification needs both genuine and
    impostor pairs ... use at least two classes' spoke of pairs and classes."""
    z, writer, forged = _toy()
    one = (writer == 0) & ~forged
    with pytest.raises(ValueError, match=r"no forgery to choose a threshold against.*give a thr"):
        evaluate_signatures(z[one], writer[one], forged[one], n_references=3)
    ev = evaluate_signatures(z[one], writer[one], forged[one], n_references=3, threshold=1.0)
    assert ev.threshold_source == "given" and ev.skilled.n_forged == ev.random.n_forged == 0


def test_one_reference_and_one_writer_are_counted_as_one_in_the_report_and_refusal() -> None:
    # the --report page said "1 writers, 1 references each" and the refusal "more than 1
    # genuine signatures to evaluate with 1 references" (the CLI's line already counted them)
    from siamkit.applications.signatures.report import render_signature_report

    torch.manual_seed(0)
    writer = torch.tensor([0, 0, 0, 1])
    forged = torch.tensor([False, False, True, False])
    z = torch.randn(4, 8)
    ev = evaluate_signatures(z, writer, forged, n_references=1, threshold=1.0)
    assert (ev.n_writers, ev.n_writers_evaluated) == (2, 1)
    page = render_signature_report(ev, signature_scores(z, writer, forged, 1), "t")
    assert (
        "<p>1 of 2 writers (the others have too few genuine signatures), 1 reference each," in page
    )
    one = torch.tensor([True, True, True, False])
    ev = evaluate_signatures(z[one], writer[one], forged[one], n_references=1, threshold=1.0)
    page = render_signature_report(ev, signature_scores(z[one], writer[one], forged[one], 1), "t")
    assert "<p>1 writer, 1 reference each, decision on" in page
    with pytest.raises(ValueError, match=r"^no writer has more than 1 genuine signature to "):
        evaluate_signatures(z, torch.tensor([0, 0, 1, 1]), torch.tensor([False, True] * 2), 1)
    with pytest.raises(ValueError, match=r"to evaluate with 1 reference \(one must be left"):
        evaluate_signatures(z, torch.tensor([0, 0, 1, 1]), torch.tensor([False, True] * 2), 1)
