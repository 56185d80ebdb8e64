"""Corpus reading, pair search and grouping against naive loops."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from siamkit.applications.text.corpus import read_corpus
from siamkit.applications.text.dedup import (
    CANDIDATE_SIMILARITY,
    PassageVectors,
    covered_pairs,
    group_duplicates,
    similar_pairs,
)
from siamkit.applications.text.passages import split_sentences


def _unit(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n // 3, d))
    z = np.concatenate(
        [base, base + 0.3 * rng.normal(size=base.shape), rng.normal(size=(n - 2 * len(base), d))]
    )
    return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)


def test_pairs_equal_a_naive_loop_exact_and_faiss() -> None:
    z = _unit(90, 16, 0)
    naive = {(i, j) for i in range(90) for j in range(i + 1, 90) if z[i] @ z[j] >= 0.8}
    exact = similar_pairs(z, 0.8, block=7)
    assert {tuple(p) for p in exact.tolist()} == naive and naive
    approx = similar_pairs(z, 0.8, faiss_above=10, k=20)  # HNSW on 90 points finds them all
    assert {tuple(p) for p in approx.tolist()} == naive


def _linked(z: np.ndarray, sim: float) -> set[tuple[int, int]]:
    return {tuple(p) for p in similar_pairs(z, sim).tolist()}


@pytest.mark.parametrize("rule", ["components", "clique", "centroid"])
def test_group_rules_hold_their_property(rule: str) -> None:
    z = _unit(120, 8, 1)
    links = _linked(z, 0.6)

    def linked(a: int, b: int) -> bool:
        return (min(a, b), max(a, b)) in links

    groups = group_duplicates(z, similar_pairs(z, 0.6), rule)
    members = [i for g in groups for i in g.members]
    assert len(members) == len(set(members))  # a text is in one group at most
    for g in groups:
        m = list(g.members)
        if rule == "clique":
            assert all(linked(a, b) for a in m for b in m if a < b)
        if rule == "centroid":
            assert all(linked(m[0], b) for b in m[1:])
        np.testing.assert_allclose(g.scores, z[m] @ z[m[0]], rtol=1e-5)
    if rule == "components":  # naive flood fill over the links
        seen: set[int] = set()
        comps = []
        for start in sorted({i for p in links for i in p}):
            if start in seen:
                continue
            stack, comp = [start], set()
            while stack:
                x = stack.pop()
                if x not in comp:
                    comp.add(x)
                    stack += [b for a, b in links if a == x] + [a for a, b in links if b == x]
            seen |= comp
            comps.append(comp)
        assert sorted(map(sorted, comps)) == sorted(sorted(g.members) for g in groups)


def test_unknown_rule_is_one_sentence() -> None:
    with pytest.raises(ValueError, match="grouping rule"):
        group_duplicates(_unit(9, 4, 0), np.zeros((0, 2), dtype=int), "star")


def test_corpus_formats_and_bad_input(tmp_path) -> None:
    (tmp_path / "c.jsonl").write_text(
        "\n".join(json.dumps({"id": f"d{i}", "body": f"text {i}"}) for i in range(3)) + "\n"
    )
    assert [d.id for d in read_corpus(tmp_path / "c.jsonl", text_field="body")] == [
        "d0",
        "d1",
        "d2",
    ]
    (tmp_path / "c.csv").write_text("id,title\n1,hello\n")
    with pytest.raises(ValueError, match="has no column 'text' \\(its columns: id, title\\)"):
        read_corpus(tmp_path / "c.csv")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("first")
    (folder / "b.txt").write_bytes(b"ok so far \xff\xfe bad")
    with pytest.raises(
        ValueError, match=r"b\.txt line 1: byte 0xff at offset 10 is not UTF-8 text; save"
    ):
        read_corpus(folder)
    (folder / "b.txt").write_text("  ")
    assert [d.id for d in read_corpus(folder)] == ["a.txt"]  # empty texts are dropped
    with pytest.raises(ValueError, match="holds no non-empty text"):
        read_corpus(folder / "b.txt")
    with pytest.raises(ValueError, match="has no field 'nope' on any line"):
        read_corpus(tmp_path / "c.jsonl", text_field="nope")


def test_sentence_offsets_point_into_the_text() -> None:
    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "delta", "eps"]
    text = "  ".join(
        " ".join(rng.choice(words) for _ in range(rng.randint(1, 8))) + rng.choice(".!?")
        for _ in range(40)
    )
    parts = split_sentences(text)
    assert all(text[p.start : p.end] == p.text for p in parts)
    assert all(parts[k].end <= parts[k + 1].start for k in range(len(parts) - 1))
    # every non-space character is inside one sentence
    covered = sum(len(p.text.replace(" ", "")) for p in parts)
    assert covered == len(text.replace(" ", ""))
    assert all(len(p.text.split()) >= 4 for p in parts[:-1])


def _passages(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Texts of 1-5 unit sentence vectors; every third text an edited copy of the one before."""
    rng = np.random.default_rng(seed)
    rows, counts = [], []
    for t in range(n):
        if t % 3 == 2:  # copy of text t-1: drop its last sentence, perturb the rest
            prev = rows[-counts[-1] :][: max(1, counts[-1] - 1)]
            new = [r + 0.15 * rng.normal(size=r.shape) for r in prev]
        else:
            new = list(rng.normal(size=(int(rng.integers(1, 6)), 6)))
        new = [r / np.linalg.norm(r) for r in new]
        rows += new
        counts.append(len(new))
    return np.array(rows, dtype=np.float32), counts


def test_passage_coverage_equals_a_naive_loop() -> None:
    vecs, counts = _passages(30, 0)
    pv = PassageVectors.from_rows(vecs, counts)
    texts = np.split(vecs, np.cumsum(counts)[:-1])

    def naive(a: int, b: int) -> float:
        def one_way(x: np.ndarray, y: np.ndarray) -> float:
            return sum(max(float(u @ v) for v in y) for u in x) / len(x)

        return min(one_way(texts[a], texts[b]), one_way(texts[b], texts[a]))

    for a, b in [(0, 1), (1, 2), (4, 5), (7, 3), (9, 9)]:
        assert pv.coverage(a, b) == pytest.approx(naive(a, b), abs=1e-5)
    means = np.array([t.sum(0) / np.linalg.norm(t.sum(0)) for t in texts])
    np.testing.assert_allclose(pv.means, means, atol=1e-5)
    # every pair above the coverage among those whose means reach the candidate floor
    t = 0.7
    want = {
        (a, b)
        for a in range(30)
        for b in range(a + 1, 30)
        if naive(a, b) >= t and means[a] @ means[b] >= min(CANDIDATE_SIMILARITY, t)
    }
    ones = {t for t in range(30) if counts[t] == 1}  # one sentence each: the vectorised path
    assert any(a in ones and b in ones for a, b in want)
    assert any(a not in ones or b not in ones for a, b in want)
    for above in (50_000, 10):  # exact, then FAISS HNSW (30 points: it finds them all)
        pairs, cov = covered_pairs(pv, t, faiss_above=above)
        assert {tuple(p) for p in pairs.tolist()} == want and want
        np.testing.assert_allclose(cov, [naive(a, b) for a, b in pairs.tolist()], atol=1e-5)
    # one-sentence pairs held to their own threshold, the others to the coverage
    single_scores = sorted(naive(a, b) for a, b in want if a in ones and b in ones)
    ts = (single_scores[0] + single_scores[-1]) / 2  # between the weakest and strongest
    want_s = {
        (a, b)
        for a in range(30)
        for b in range(a + 1, 30)
        if naive(a, b) >= (ts if a in ones and b in ones else t)
        and means[a] @ means[b] >= min(CANDIDATE_SIMILARITY, t)
    }
    assert want_s < want  # the stricter one-sentence threshold dropped some pairs
    assert {tuple(p) for p in covered_pairs(pv, t, ts)[0].tolist()} == want_s
    groups = group_duplicates(pv, covered_pairs(pv, t)[0])
    for g in groups:
        np.testing.assert_allclose(g.scores, [naive(g.members[0], m) for m in g.members], atol=1e-5)
        assert g.min_similarity >= t


def test_passage_coverage_reports_each_pair_it_scores() -> None:
    # the pair-by-pair coverage loop had no progress: only the candidate search ticked
    vecs, counts = _passages(30, 0)
    pv = PassageVectors.from_rows(vecs, counts)
    calls: list[tuple[int, int]] = []
    covered_pairs(pv, 0.7, score_tick=lambda done, total: calls.append((done, total)))
    total = calls[0][1]
    cand = similar_pairs(pv.means, min(CANDIDATE_SIMILARITY, 0.7))
    n = np.diff(pv.offsets)
    assert total == int(((n[cand[:, 0]] > 1) | (n[cand[:, 1]] > 1)).sum()) > 0
    assert calls == [(k, total) for k in range(total + 1)]


def test_passage_vectors_reject_counts_that_do_not_add_up() -> None:
    vecs, counts = _passages(6, 1)
    with pytest.raises(ValueError, match="passage vectors for"):
        PassageVectors.from_rows(vecs, [*counts[:-1], counts[-1] + 1])
    with pytest.raises(ValueError, match="at least one passage"):
        PassageVectors.from_rows(vecs, [0, *counts])
