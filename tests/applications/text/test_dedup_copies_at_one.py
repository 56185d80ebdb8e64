"""A threshold of 1.0 asks for identical texts only: every copy is linked, though float32 unit
vectors give a copied pair a dot product up to about 1e-6 under 1 as often as over it (a strict
comparison linked 174 of 300 copied texts of MiniLM, text plagiarism at 1.0 missed copied
sentences, and text similarity called 3 of 20 copies different)."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.text.dedup import PassageVectors, covered_pairs, similar_pairs
from siamkit.applications.text.documents import Document
from siamkit.applications.text.duplicates import find_duplicates
from siamkit.applications.text.plagiarism import find_plagiarism


def _unit_rows(n: int, seed: int = 0) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(n, 384)).astype(np.float32)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


@pytest.mark.parametrize("faiss_above", [50_000, 10])
def test_every_copy_is_linked_at_one(faiss_above: int) -> None:
    z = _unit_rows(40)
    assert (np.einsum("ij,ij->i", z, z) < 1).any()  # rounding puts some copies under 1
    pairs = similar_pairs(np.concatenate([z, z]), 1.0, faiss_above=faiss_above)
    # by hand: row i and its copy i + 40 and nothing else (distinct random rows are far apart)
    assert pairs.tolist() == [[i, i + 40] for i in range(40)]


def test_every_copy_is_covered_at_one() -> None:
    z = _unit_rows(30)
    counts = [1, 2, 3] * 5  # texts of 1, 2 and 3 sentences, then their copies
    passages = PassageVectors.from_rows(np.concatenate([z, z]), counts * 2)
    pairs, cov = covered_pairs(passages, 1.0, 1.0)
    assert pairs.tolist() == [[i, i + 15] for i in range(15)]
    assert np.allclose(cov, 1.0, atol=1e-6)


def test_copied_texts_and_sentences_are_found_at_one(text_model) -> None:  # type: ignore[no-untyped-def]
    texts = [
        f"Report {k}: the river rose {k} metres overnight near the old mill." for k in range(20)
    ]
    found = find_duplicates(texts + texts, text_model, threshold=1.0)
    assert sorted(g.members for g in found.groups) == [(k, k + 20) for k in range(20)]
    essay = " ".join(texts)
    report = find_plagiarism(text_model, Document("essay", essay), [Document("src", essay)], 1.0)
    assert [s.sentences for s in report.spans] == [20]  # the whole essay, one span
    assert report.scores[0].coverage == 1.0


def test_a_text_and_its_copy_are_the_same_at_one(text_model) -> None:  # type: ignore[no-untyped-def]
    from siamkit.applications.text.similarity import compare_texts

    texts = [
        f"Report {k}: the river rose {k} metres overnight near the old mill." for k in range(20)
    ]
    assert all(compare_texts(text_model, t, t, 1.0).same for t in texts)
