"""Recipe choice for the Lee fine-tuning on VALIDATION documents only (never the held-out half).

For each training half of `bench_text.py lee-finetune` (A = documents 0-24, B = 25-49), its 25
documents are split into inner-train (13) and inner-validation (12) documents, both ways
(first 13 / last 12, then last 13 / first 12); a recipe fine-tunes on the pairs among the
inner-train documents and is scored on the pairs among the inner-validation documents: Pearson r
of the raw cosine, Pearson r after the monotone score map fitted on the inner-train pairs, and
Spearman. The test half of each split is never embedded here.

    nice python benchmarks/text_lee_val.py --recipes zero cosent:5e-5:4:full cosine_mse:5e-5:4:16
    (recipe = loss:lr:epochs:batch, batch "full" = all pairs in one step; "zero": the
    pretrained model, "zero-sent": pretrained, mean of each document's sentence embeddings)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from scipy.stats import spearmanr

from bench_text import fine_tune_pairs
from siamkit.applications.text import load_text_model
from siamkit.applications.text.embedding import embed_texts
from siamkit.applications.text.score_map import ScoreMap
from text_bench_data import lee_documents, lee_pairs


def inner_splits() -> list[tuple[str, list[int], list[int]]]:
    out = []
    for name, half in (("A", list(range(25))), ("B", list(range(25, 50)))):
        out.append((f"{name}1", half[:13], half[13:]))
        out.append((f"{name}2", half[12:], half[:12]))
    return out


def sentence_mean(model, doc: str) -> np.ndarray:
    from siamkit.applications.text.passages import split_sentences

    v = embed_texts(model, [p.text for p in split_sentences(doc)]).vectors.mean(0)
    return v / np.linalg.norm(v)


def pairs_among(docs: set[int], i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return np.array([a in docs and b in docs for a, b in zip(i, j)])


def fit(recipe: str, train: list[tuple[str, str, float]], seed: int, out: Path, model: str | None):
    """``bench_text.py``'s fine-tuning with a recipe written ``loss:lr:epochs:batch``."""
    loss, lr, epochs, batch = recipe.split(":")
    size = len(train) if batch == "full" else int(batch)
    return fine_tune_pairs(
        train, out, model=model, loss=loss, epochs=int(epochs), batch_size=size, lr=float(lr),
        seed=seed,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--recipes", nargs="+", default=["zero"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    docs, (i, j, y) = lee_documents(), lee_pairs()
    base = load_text_model(args.model)
    print(
        "| recipe | split | raw r | mapped r | Spearman | s |\n| --- | --- | --- | --- | --- | --- |"
    )
    for recipe in args.recipes:
        rows = []
        for name, tr, va in inner_splits():
            t0 = time.time()
            mtr, mva = pairs_among(set(tr), i, j), pairs_among(set(va), i, j)
            use = sorted(set(tr) | set(va))  # only the training half's documents are embedded
            if recipe == "zero":
                z_sub = embed_texts(base, [docs[k] for k in use]).vectors
            elif recipe == "zero-sent":  # mean of the documents' sentence embeddings
                z_sub = np.stack([sentence_mean(base, docs[k]) for k in use])
            else:
                train = [(docs[a], docs[b], float(s)) for a, b, s in zip(i[mtr], j[mtr], y[mtr])]
                with tempfile.TemporaryDirectory() as tmp:
                    model = fit(recipe, train, args.seed, Path(tmp), args.model)
                z_sub = embed_texts(model, [docs[k] for k in use]).vectors
            z = np.zeros((len(docs), z_sub.shape[1]), dtype=np.float32)
            z[use] = z_sub
            cos = (z[i] * z[j]).sum(1)
            smap = ScoreMap.fit(cos[mtr], y[mtr])
            raw = float(np.corrcoef(cos[mva], y[mva])[0, 1])
            mapped = float(np.corrcoef(smap(cos[mva]), y[mva])[0, 1])
            rho = float(spearmanr(cos[mva], y[mva])[0])
            rows.append((raw, mapped, rho))
            print(
                f"| {recipe} | {name} | {raw:.3f} | {mapped:.3f} | {rho:.3f} | {time.time() - t0:.0f} |",
                flush=True,
            )
        m = np.mean(rows, axis=0)
        print(f"| {recipe} | **mean** | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | |", flush=True)


if __name__ == "__main__":
    main()
