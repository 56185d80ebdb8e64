"""Data for benchmarks/bench_text.py: the Lee corpus files of gensim's wheel and a synthetic
near-duplicate set built from the Lee background documents (read as files; gensim is not imported).

Synthetic duplicates: each original gets 1-3 edited copies; each copy applies two random edits
among: swap two adjacent sentences, delete a sentence, drop 5% of the words, typos in 3% of the
words, keep only the first 70-90% of the sentences (the "lexical" mixture, as first published).

The "paraphrase" mixture (decided before any run with it, 2026-12-02): each copy replaces 25% of
its swappable words by a WordNet synonym (a lowercase alphabetic word of 4+ letters, not a stop
word, whose first-listed sense has another single-word lemma; WordNet 3.0 from the Debian package
``wordnet-base``, its dict files read directly), then applies ONE random edit of the lexical
mixture's five.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
from pathlib import Path

import numpy as np

LEE_FILES = ("lee.cor", "lee_background.cor", "similarities0-1.txt")


def gensim_test_data() -> Path:
    """The folder holding gensim's test data files: ``$SIAMKIT_TEXT_DATA``, then
    ``~/.cache/siamkit/gensim-test-data`` (both filled by ``make text-data``), then an importable
    gensim's ``test/test_data`` (a gensim install, or its wheel unpacked on ``PYTHONPATH``)."""
    env = os.environ.get("SIAMKIT_TEXT_DATA")
    folders = [Path(env)] if env else []
    folders.append(Path.home() / ".cache" / "siamkit" / "gensim-test-data")
    spec = importlib.util.find_spec("gensim")
    if spec is not None and spec.origin is not None:
        folders.append(Path(spec.origin).parent / "test" / "test_data")
    for folder in folders:
        if all((folder / name).is_file() for name in LEE_FILES):
            return folder
    raise SystemExit(
        "the Lee corpus files (lee.cor, lee_background.cor, similarities0-1.txt) were not found in "
        + ", ".join(str(f) for f in folders)
        + ": run `make text-data` (unpacks them from gensim's wheel) or pip install gensim"
    )


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


def edit(text: str, rng: random.Random, n_ops: int = 2) -> str:
    """A paraphrase-like edited copy of ``text`` (``n_ops`` random edits)."""
    sents = _sentences(text)
    for op in rng.sample(["swap", "delete", "drop", "typo", "truncate"], n_ops):
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


WORDNET = Path("/usr/share/wordnet")
_STOP = frozenset(
    [
        "also",
        "been",
        "being",
        "could",
        "does",
        "done",
        "have",
        "having",
        "into",
        "more",
        "most",
        "much",
        "only",
        "other",
        "over",
        "same",
        "some",
        "such",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "very",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "will",
        "with",
        "would",
        "your",
        "said",
        "says",
    ]
)


class WordNetSynonyms:
    """Single-word synonyms from WordNet's dict files (``index.*`` and ``data.*``): for a lemma,
    the other lemmas of its first-listed sense, parts of speech tried in the order noun, verb,
    adjective, adverb."""

    POS = ("noun", "verb", "adj", "adv")

    def __init__(self, folder: Path = WORDNET) -> None:
        first: dict[str, tuple[str, int]] = {}  # lemma -> (pos, offset of its first sense)
        for pos in self.POS:
            path = folder / f"index.{pos}"
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} is missing: install the Debian package wordnet-base"
                )
            for line in path.read_text(encoding="latin-1").splitlines():
                if line.startswith(" "):  # the licence header
                    continue
                f = line.split()
                lemma, n_synsets, n_ptr = f[0], int(f[2]), int(f[3])
                if lemma.isalpha() and lemma not in first and n_synsets > 0:
                    first[lemma] = (pos, int(f[6 + n_ptr]))  # after the pointers and 2 counts
        wanted: dict[str, set[int]] = {}
        for pos, off in first.values():
            wanted.setdefault(pos, set()).add(off)
        words: dict[tuple[str, int], list[str]] = {}
        for pos, offs in wanted.items():
            for line in (folder / f"data.{pos}").read_text(encoding="latin-1").splitlines():
                if line.startswith(" "):
                    continue
                f = line.split()
                off = int(f[0])
                if off in offs:
                    n = int(f[3], 16)  # w_cnt is hexadecimal
                    lemmas = [re.sub(r"\(.*\)$", "", w).lower() for w in f[4 : 4 + 2 * n : 2]]
                    words[(pos, off)] = [w for w in lemmas if w.isalpha()]
        self.synonyms = {
            lemma: syn
            for lemma, key in first.items()
            if (syn := [w for w in dict.fromkeys(words.get(key, [])) if w != lemma])
        }

    def swap(self, text: str, rng: random.Random, rate: float = 0.25) -> str:
        """``text`` with ``rate`` of its swappable words replaced by a synonym (one drawn at random)."""
        tokens = re.split(r"(\W+)", text)
        able = [
            k
            for k, t in enumerate(tokens)
            if len(t) >= 4 and t.isalpha() and t.islower() and t not in _STOP and t in self.synonyms
        ]
        for k in rng.sample(able, round(rate * len(able))):
            tokens[k] = rng.choice(self.synonyms[tokens[k]])
        return "".join(tokens)


_WN: WordNetSynonyms | None = None


def paraphrase(text: str, rng: random.Random, wordnet: WordNetSynonyms | None = None) -> str:
    """The "paraphrase" mixture: 25% synonym swaps, then one random lexical edit."""
    global _WN
    if wordnet is None:
        _WN = _WN or WordNetSynonyms()
        wordnet = _WN
    return edit(wordnet.swap(text, rng), rng, n_ops=1)


def duplicate_set(
    docs: list[str], seed: int = 0, mixture: str = "lexical"
) -> tuple[list[str], list[int]]:
    """Originals plus 1-3 edited copies each (shuffled); returns texts and their group ids.
    ``mixture``: "lexical" (:func:`edit`) or "paraphrase" (:func:`paraphrase`)."""
    rng = random.Random(seed)
    make = {"lexical": edit, "paraphrase": paraphrase}[mixture]
    texts, groups = [], []
    for g, doc in enumerate(docs):
        texts.append(doc)
        groups.append(g)
        for _ in range(rng.randint(1, 3)):
            texts.append(make(doc, rng))
            groups.append(g)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[k] for k in order], [groups[k] for k in order]


def merge_identical(docs: list[str], truth: list[int]) -> list[int]:
    """Group ids with originals of identical text merged (to the first one's id).

    The Lee background corpus holds a few documents twice, word for word (3 pairs among
    0-149, 4 among 150-299): :func:`duplicate_set` gives each its own id, so every method that
    finds them was charged false positives. Merging depends on the data only, not on any method.
    """
    first: dict[str, int] = {}
    return [first.setdefault(docs[t], t) for t in truth]


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
