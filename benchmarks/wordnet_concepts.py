"""WordNet noun synsets for Lee round 7 (``benchmarks/text_lee_hybrid.py --wordnet``): the
ESA tower over the synsets and the bag-of-synsets tower's TF-IDF cosine. WordNet 3.0's dict files
(``index.noun``, ``data.noun``, ``noun.exc``; Debian ``wordnet-base``) are read by siamkit's own
parser (:mod:`siamkit.applications.text.wordnet`, moved there from this file at stop 60, where
``siamkit text lexical --synsets`` uses it), so the benchmark and the product count alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from siamkit.applications.text.wordnet import NOUN_RULES, TOKEN, WORDNET, NounSynsets

__all__ = ["NOUN_RULES", "TOKEN", "WORDNET", "NounSynsets", "concept_scores", "synset_scores"]


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
