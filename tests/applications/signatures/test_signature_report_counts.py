"""The --report page's table counts its genuine and forged scores with the thousands separator
every message writes ("<td>1234</td>": s60 final note, Counts). The evaluation is built from a
small one, its counts replaced: no 1,234 signatures."""

from __future__ import annotations

import dataclasses

import torch

from siamkit.applications.signatures.evaluate import evaluate_signatures, signature_scores
from siamkit.applications.signatures.report import render_signature_report


def test_the_tables_counts_have_the_separator() -> None:
    torch.manual_seed(0)
    writer = torch.tensor([0, 0, 0, 1, 1, 1])
    forged = torch.tensor([False, False, True, False, False, True])
    z = torch.randn(6, 8)
    ev = evaluate_signatures(z, writer, forged, n_references=1, threshold=1.0)
    big = dataclasses.replace(
        ev,
        skilled=dataclasses.replace(ev.skilled, n_genuine=1234, n_forged=56789),
        random=dataclasses.replace(ev.random, n_genuine=1000, n_forged=1),
    )
    page = render_signature_report(big, signature_scores(z, writer, forged, 1), "t")
    assert "<td>1,234</td><td>56,789</td></tr>" in page
    assert "<td>1,000</td><td>1</td></tr>" in page
