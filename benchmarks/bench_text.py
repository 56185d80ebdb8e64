"""Text benchmarks: default thresholds, Lee document similarity, duplicates, plagiarism, speed.

    nice python benchmarks/bench_text.py calibrate      # default thresholds, on validation data
    nice python benchmarks/bench_text.py lee            # Pearson r zero-shot: siamkit, TF-IDF, anchors
    nice python benchmarks/bench_text.py lee-finetune   # document-disjoint halves, siamkit vs the peer
    nice python benchmarks/bench_text.py duplicates     # P/R/F1 of groups vs TF-IDF and MinHash LSH
    nice python benchmarks/bench_text.py speed          # texts/s of embed vs sentence-transformers

Validation vs test: the default thresholds are chosen on Lee background documents 0-149 only;
the duplicate and plagiarism tests use documents 150-299.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from siamkit.applications.text import load_text_model
from siamkit.applications.text.dedup import group_duplicates, similar_pairs
from siamkit.applications.text.embedding import embed_texts
from siamkit.applications.text.passages import split_sentences
from text_bench_data import (
    duplicate_set,
    lee_background,
    pair_f1,
    plagiarism_set,
)

GRID = np.round(np.arange(0.50, 0.991, 0.01), 2)


def _groups_f1(z: np.ndarray, truth: list[int], sim: float, rule: str = "components") -> tuple:
    groups = group_duplicates(z, similar_pairs(z, sim), rule)
    return pair_f1([list(g.members) for g in groups], truth)


def _passage_scores(model, sources: list[str], others: list[str], seed: int) -> tuple:
    essays = plagiarism_set(sources, others, seed=seed)
    src = [p.text for d in sources for p in split_sentences(d)]
    zs = embed_texts(model, src).vectors
    sus = [s for e, _ in essays for s in e]
    labels = np.array([x for _, ls in essays for x in ls])
    best = (embed_texts(model, sus).vectors @ zs.T).max(1)  # each suspect sentence's best match
    return best, labels


def _f1(pred: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & labels).sum())
    p, r = tp / max(pred.sum(), 1), tp / max(labels.sum(), 1)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def calibrate(args: argparse.Namespace) -> None:
    """Best-F1 similarity thresholds on the validation documents (background 0-149)."""
    model, docs = load_text_model(args.model), lee_background()[:150]
    texts, truth = duplicate_set(docs, seed=0)
    z = embed_texts(model, texts).vectors
    doc_f1 = {s: _groups_f1(z, truth, s)[2] for s in GRID}
    best, labels = _passage_scores(model, docs[:100], docs[100:150], seed=0)
    sent_f1 = {s: _f1(best >= s, labels)[2] for s in GRID}
    d, p = max(doc_f1, key=doc_f1.get), max(sent_f1, key=sent_f1.get)
    print("| level | validation data (synthetic) | best similarity | F1 there |")
    print("| --- | --- | --- | --- |")
    print(
        f"| document (dedup) | {len(texts)} texts, near-duplicates of background 0-149 | {d:.2f} | {doc_f1[d]:.3f} |"
    )
    print(
        f"| passage (plagiarism, similarity) | 300 essay sentences vs sources 0-99 | {p:.2f} | {sent_f1[p]:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=sorted(_COMMANDS))
    parser.add_argument(
        "--model", default=None, help="text model folder (default all-MiniLM-L6-v2)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    t = time.time()
    _COMMANDS[args.what](args)
    print(f"\n({args.what}: {time.time() - t:.0f} s, {args.threads} threads)")


_COMMANDS = {"calibrate": calibrate}

if __name__ == "__main__":
    main()
