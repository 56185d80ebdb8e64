"""Data for benchmarks/bench_text.py: the Lee corpus files of gensim's wheel and a synthetic
near-duplicate set built from the Lee background documents (read as files; gensim is not imported).

Synthetic duplicates: each original gets 1-3 edited copies; each copy applies two random edits
among: swap two adjacent sentences, delete a sentence, drop 5% of the words, typos in 3% of the
words, keep only the first 70-90% of the sentences. (No synonym swaps: WordNet is not installed.)
"""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path

import numpy as np


def gensim_test_data() -> Path:
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        raise SystemExit("the Lee corpus comes from the gensim wheel: pip install gensim")
    return Path(spec.origin).parent / "test" / "test_data"


def lee_documents() -> list[str]:
    """The 50 Lee documents (one per line of lee.cor)."""
    raw = (gensim_test_data() / "lee.cor").read_bytes().decode("latin-1")  # not UTF-8 (a £ sign)
    return [ln.strip() for ln in raw.splitlines()]


def lee_background() -> list[str]:
    """The 300 background documents (lee_background.cor, one per line)."""
    lines = (gensim_test_data() / "lee_background.cor").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip()]


def lee_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, score)`` for the 1,225 pairs i < j: similarities0-1.txt is a 50×50 matrix whose
    upper triangle holds the mean human rating (scaled to 0-1) of documents i and j."""
    m = np.loadtxt(gensim_test_data() / "similarities0-1.txt")  # (50, 50)
    i, j = np.triu_indices(len(m), k=1)
    return i, j, m[i, j]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def _typos(words: list[str], rng: random.Random, rate: float) -> list[str]:
    out = []
    for w in words:
        if len(w) > 3 and rng.random() < rate:
            k = rng.randrange(len(w) - 1)
            w = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
        out.append(w)
    return out


def edit(text: str, rng: random.Random) -> str:
    """A paraphrase-like edited copy of ``text`` (two random edits)."""
    sents = _sentences(text)
    for op in rng.sample(["swap", "delete", "drop", "typo", "truncate"], 2):
        if op == "swap" and len(sents) > 1:
            k = rng.randrange(len(sents) - 1)
            sents[k], sents[k + 1] = sents[k + 1], sents[k]
        elif op == "delete" and len(sents) > 2:
            del sents[rng.randrange(len(sents))]
        elif op == "truncate" and len(sents) > 3:
            sents = sents[: max(2, round(len(sents) * rng.uniform(0.7, 0.9)))]
        elif op in ("drop", "typo"):
            words = " ".join(sents).split()
            words = (
                [w for w in words if rng.random() > 0.05]
                if op == "drop"
                else _typos(words, rng, 0.03)
            )
            sents = _sentences(" ".join(words))
    return " ".join(sents)


def duplicate_set(docs: list[str], seed: int = 0) -> tuple[list[str], list[int]]:
    """Originals plus 1-3 edited copies each (shuffled); returns texts and their group ids."""
    rng = random.Random(seed)
    texts, groups = [], []
    for g, doc in enumerate(docs):
        texts.append(doc)
        groups.append(g)
        for _ in range(rng.randint(1, 3)):
            texts.append(edit(doc, rng))
            groups.append(g)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[k] for k in order], [groups[k] for k in order]


def pair_f1(pred_groups: list[list[int]], truth: list[int]) -> tuple[float, float, float]:
    """Precision, recall and F1 over the pairs of texts put in one group (vs the true groups)."""
    pred = {(a, b) for g in pred_groups for a in g for b in g if a < b}
    by: dict[int, list[int]] = {}
    for i, t in enumerate(truth):
        by.setdefault(t, []).append(i)
    true = {(a, b) for g in by.values() for a in g for b in g if a < b}
    tp = len(pred & true)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(true) if true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def edit_sentence(sentence: str, rng: random.Random) -> str:
    """A lightly reworded copy of one sentence: dropped words and typos."""
    words = [w for w in sentence.split() if rng.random() > 0.1] or sentence.split()
    return " ".join(_typos(words, rng, 0.05))


def plagiarism_set(
    sources: list[str], others: list[str], n: int = 30, per: int = 10, seed: int = 0
) -> list[tuple[list[str], list[bool]]]:
    """``n`` suspect essays of ``per`` sentences: about half copied (lightly edited) from
    ``sources``, the rest taken from ``others`` (not among the sources); True marks copied."""
    rng = random.Random(seed)
    src = [s for d in sources for s in _sentences(d) if len(s.split()) >= 4]
    oth = [s for d in others for s in _sentences(d) if len(s.split()) >= 4]
    essays = []
    for _ in range(n):
        sents, labels = [], []
        for _ in range(per):
            copied = rng.random() < 0.5
            s = rng.choice(src if copied else oth)
            sents.append(edit_sentence(s, rng) if copied else s)
            labels.append(copied)
        essays.append((sents, labels))
    return essays
