"""WordNet noun synsets for Lee round 7 (``benchmarks/text_lee_hybrid.py --wordnet``): the
concept texts of an ESA tower over the synsets and a bag-of-synsets tower, read directly from
WordNet 3.0's dict files (``index.noun``, ``data.noun``, ``noun.exc``; Debian ``wordnet-base``).

File formats (WordNet's ``wndb(5WN)``): a ``data.noun`` line is ``offset lex_filenum ss_type
w_cnt word lex_id ... p_cnt ptr... | gloss`` (``w_cnt`` hexadecimal, each pointer
``symbol offset pos source/target``); an ``index.noun`` line is ``lemma pos synset_cnt p_cnt
symbol... sense_cnt tagsense_cnt offset...`` (the last ``synset_cnt`` fields, in sense order); a
``noun.exc`` line is ``inflected base...``. Lines starting with a space are the licence header.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WORDNET = Path("/usr/share/wordnet")
# WordNet's morphy rules for nouns, in its order: (suffix, replacement)
NOUN_RULES = (
    ("s", ""),
    ("ses", "s"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
)
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern, as LexicalTower's


@dataclass(frozen=True)
class NounSynsets:
    """The noun synsets of one WordNet: ``offsets`` in ``data.noun`` order, ``texts`` (each
    synset's lemmas, ``_`` read as a space, then its gloss), ``hypernyms`` (offset -> the
    offsets its ``@`` and ``@i`` pointers name), ``senses`` (lemma -> its synset offsets in
    sense order) and ``exceptions`` (inflected form -> base form, ``noun.exc``)."""

    offsets: tuple[int, ...]
    texts: tuple[str, ...]
    hypernyms: dict[int, tuple[int, ...]]
    senses: dict[str, tuple[int, ...]]
    exceptions: dict[str, str]

    @classmethod
    def read(cls, folder: Path = WORDNET) -> NounSynsets:
        paths = [folder / n for n in ("data.noun", "index.noun", "noun.exc")]
        for p in paths:
            if not p.is_file():
                raise FileNotFoundError(f"{p} is missing: install the Debian package wordnet-base")
        offsets, texts, hyper = [], [], {}
        for n, line in enumerate(paths[0].read_text(encoding="latin-1").splitlines(), 1):
            if line.startswith(" ") or not line.strip():
                continue
            head, _, gloss = line.partition(" | ")
            f = head.split()
            try:
                off, w_cnt = int(f[0]), int(f[3], 16)
                lemmas = [w.replace("_", " ") for w in f[4 : 4 + 2 * w_cnt : 2]]
                k = 4 + 2 * w_cnt
                p_cnt = int(f[k])
                ptrs = [f[k + 1 + 4 * q : k + 5 + 4 * q] for q in range(p_cnt)]
                hyper[off] = tuple(int(p[1]) for p in ptrs if p[0] in ("@", "@i") and p[2] == "n")
            except (IndexError, ValueError):
                raise ValueError(f"{paths[0]} line {n} is not a WordNet data line") from None
            offsets.append(off)
            texts.append("; ".join(lemmas) + ": " + gloss.strip())
        senses = {}
        for n, line in enumerate(paths[1].read_text(encoding="latin-1").splitlines(), 1):
            if line.startswith(" ") or not line.strip():
                continue
            f = line.split()
            try:
                cnt = int(f[2])
                senses[f[0]] = tuple(int(x) for x in f[len(f) - cnt :]) if cnt else ()
            except (IndexError, ValueError):
                raise ValueError(f"{paths[1]} line {n} is not a WordNet index line") from None
        exc = {}
        for line in paths[2].read_text(encoding="latin-1").splitlines():
            f = line.split()
            if len(f) >= 2:
                exc.setdefault(f[0], f[1])
        return cls(tuple(offsets), tuple(texts), hyper, senses, exc)

    def lemma(self, word: str) -> str | None:
        """``word``'s noun lemma: its ``noun.exc`` base, the word itself, then the first suffix
        rule giving a lemma WordNet lists (``None`` if none does)."""
        base = self.exceptions.get(word)
        if base is not None and base in self.senses:
            return base
        if word in self.senses:
            return word
        for suffix, repl in NOUN_RULES:
            cand = word[: len(word) - len(suffix)] + repl
            if word.endswith(suffix) and cand in self.senses:
                return cand
        return None

    def counts(self, texts: Sequence[str], stop_words: frozenset[str]):
        """``(len(texts), len(offsets))`` sparse bag-of-synsets counts: each token (lower-case,
        ``TOKEN``, not a stop word) whose noun lemma has ``n`` synsets adds ``1/n`` to each of
        them and ``1/n`` to each of their direct hypernyms."""
        from scipy.sparse import csr_matrix

        col = {o: c for c, o in enumerate(self.offsets)}
        rows, cols, vals = [], [], []
        for r, text in enumerate(texts):
            acc: dict[int, float] = {}
            for w in TOKEN.findall(text.lower()):
                if w in stop_words or (lem := self.lemma(w)) is None:
                    continue
                offs = self.senses[lem]
                for o in offs:
                    for t in (o, *self.hypernyms.get(o, ())):
                        acc[col[t]] = acc.get(col[t], 0.0) + 1.0 / len(offs)
            rows += [r] * len(acc)
            cols += list(acc)
            vals += list(acc.values())
        return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.offsets)))


def synset_scores(
    wn: NounSynsets, docs: Sequence[str], background: Sequence[str], i: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """Round 7's bag-of-synsets cosine of each pair ``(i[p], j[p])`` of ``docs``: TF-IDF (smooth
    idf, L2 rows) over the synset counts, the idf fitted on ``background`` only."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfTransformer

    stop = frozenset(ENGLISH_STOP_WORDS)
    tf = TfidfTransformer(smooth_idf=True, norm="l2").fit(wn.counts(background, stop))
    x = tf.transform(wn.counts(docs, stop)).toarray()
    return (x[i] * x[j]).sum(1)


def concept_scores(
    doc_sims: np.ndarray, back_sims: np.ndarray, i: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """Round 7's ESA score of each pair ``(i[p], j[p])``: ``doc_sims`` (documents x concepts)
    and ``back_sims`` (background documents x concepts) the cosines to the concepts under one
    base; each concept's column centred by its mean over the background rows, each document's
    row L2-normalised, a pair scoring the cosine of its two rows."""
    c = np.asarray(doc_sims, dtype=np.float64) - np.asarray(back_sims, dtype=np.float64).mean(0)
    c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    return (c[i] * c[j]).sum(1)
