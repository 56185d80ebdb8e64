"""evaluate_signatures counted a forgery accepted (FAR) and a genuine signature rejected (FRR) by
a strict ``score <= threshold``, while a SignatureBank accepts a score within float32 rounding
above it (siamkit.decision.accepts): a forgery 0.5e-5 over the model's threshold, which the bank
calls genuine, was left out of the reported FAR."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.applications.signatures import evaluate_signatures
from siamkit.applications.signatures.evaluate import signature_scores
from siamkit.decision import accepts


def _toy() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    writer = torch.arange(5).repeat_interleave(8)
    forged = torch.tensor(([False] * 6 + [True] * 2) * 5)
    z = (torch.randn(5, 4, generator=g) * 2)[writer] + 0.6 * torch.randn(40, 4, generator=g)
    return z, writer, forged


@pytest.mark.parametrize("kind", ["skilled", "random", "genuine"])
@pytest.mark.parametrize("over", [0.5e-5, 1e-4])
def test_far_and_frr_count_the_banks_verdicts(kind: str, over: float) -> None:
    z, writer, forged = _toy()
    s = signature_scores(z, writer, forged, n_references=3, seed=1)
    t = float(np.sort(s[kind])[len(s[kind]) // 2]) - over  # a score of `kind` `over` beyond it
    ev = evaluate_signatures(z, writer, forged, n_references=3, threshold=t, seed=1)
    # the reference: each score's verdict by the rule a SignatureBank decides with, one by one
    said = {k: np.array([bool(accepts(float(x), t)) for x in v]) for k, v in s.items()}
    for name, rates in (("skilled", ev.skilled), ("random", ev.random)):
        assert rates.far == pytest.approx(said[name].mean())
        assert rates.frr == pytest.approx(1 - said["genuine"].mean())


@pytest.mark.parametrize("over", [0.5e-5, 2e-5])
def test_frr_without_skilled_forgeries_counts_the_banks_verdicts(over: float) -> None:
    """With no skilled forgeries the rates take another branch (no EER, no FAR: FRR from the
    genuine scores alone); a strict count there passed the test above, whose writers all have
    forgeries (reviewer s53_R1 finding 3)."""
    z, writer, _ = _toy()
    none = torch.zeros(len(writer), dtype=torch.bool)
    s = signature_scores(z, writer, none, n_references=3, seed=1)
    t = float(np.sort(s["genuine"])[len(s["genuine"]) // 2]) - over  # a genuine `over` beyond
    ev = evaluate_signatures(z, writer, none, n_references=3, threshold=t, seed=1)
    assert ev.skilled.n_forged == 0 and np.isnan(ev.skilled.far)  # the case: that branch
    said = np.array([bool(accepts(float(x), t)) for x in s["genuine"]])
    assert ev.skilled.frr == pytest.approx(1 - said.mean())
    assert ev.random.frr == pytest.approx(1 - said.mean())
