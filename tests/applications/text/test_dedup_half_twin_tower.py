"""``siamkit text dedup`` (``find_duplicates``) compares documents with documents: a half-twin
embeds every text with its document tower. It embedded them with the query tower, which is
trained for the questions searched with, not for the documents compared."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

TEXTS = [
    "The printer on floor two is out of toner. It jams on every page.",
    "Printer toner is empty again. The paper jams daily on floor two.",
    "I cannot connect to the VPN from home. The client says the certificate expired.",
    "The VPN rejects my login from home. It says my certificate is no longer valid.",
]


@pytest.fixture(scope="module")
def half_twin(half_twin_net):  # type: ignore[no-untyped-def]
    """A tiny half-twin whose document tower differs from its query tower (noise 0.2)."""
    return half_twin_net(0.2).eval()


def _weakest(vectors, n: int) -> float:  # type: ignore[no-untyped-def]
    """The smallest score over every pair of ``n`` texts (cosines, or passage coverages)."""
    from siamkit.applications.text.dedup import PassageVectors

    if isinstance(vectors, PassageVectors):
        return min(vectors.coverage(a, b) for a, b in combinations(range(n), 2))
    return float(min(vectors[a] @ vectors[b] for a, b in combinations(range(n), 2)))


@pytest.mark.parametrize("by", ["documents", "passages"])
def test_dedup_scores_a_half_twins_texts_with_its_document_tower(half_twin, by: str) -> None:
    from siamkit.applications.text.duplicates import find_duplicates
    from siamkit.applications.text.embedding import embed_passages, embed_texts

    def embedded(role: str):  # type: ignore[no-untyped-def]
        if by == "passages":
            return embed_passages(half_twin, TEXTS, role=role)[0]
        return embed_texts(half_twin, TEXTS, role=role).vectors

    doc, query = _weakest(embedded("document"), 4), _weakest(embedded("query"), 4)
    assert abs(doc - query) > 1e-3  # the towers differ, so the test can tell them apart
    # every pair linked: one group, whose weakest linked pair is the weakest of all
    found = find_duplicates(TEXTS, half_twin, -1.0, by, "components")
    assert [g.members for g in found.groups] == [(0, 1, 2, 3)]
    assert found.groups[0].min_similarity == pytest.approx(doc, abs=1e-5)


def test_a_shared_model_is_scored_as_before(tiny_hf: Path) -> None:
    # one tower for both roles: the document role changes nothing
    from siamkit.applications.text.duplicates import find_duplicates
    from siamkit.applications.text.embedding import embed_texts
    from siamkit.applications.text.model import TextSiameseNetwork

    net = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8).eval()
    z = embed_texts(net, TEXTS).vectors
    found = find_duplicates(TEXTS, net, -1.0, "documents", "components")
    assert found.groups[0].min_similarity == pytest.approx(_weakest(z, 4), abs=1e-5)
    assert np.isfinite(found.threshold)
