"""`siamkit text dedup` of 200,000 short texts end to end, and the embedding path's speed options.

    # 1. the corpus: WordNet glosses (Debian wordnet-base) as distinct short texts, each with
    #    0-2 planted lightly edited copies (SYNTHETIC duplicates), and the planted truth
    python benchmarks/bench_text_scale.py corpus --n 200000 --out /tmp/dedup200k
    # 2. the real command, timed from outside
    /usr/bin/time -v siamkit text dedup /tmp/dedup200k/corpus.jsonl --out groups.jsonl \
        --threshold auto --runtime onnx-int8 --model MODEL
    # 3. pair precision / recall of the groups against the planted truth
    python benchmarks/bench_text_scale.py score --corpus /tmp/dedup200k --groups groups.jsonl
    # speed options of the ONNX embedding path on a sample of the corpus, and of the pair search
    nice -n 10 python benchmarks/bench_text_scale.py embed-options --corpus /tmp/dedup200k --n 5000
    nice -n 10 python benchmarks/bench_text_scale.py search --n 5000 --scale 200000

The corpus is synthetic in its duplicates only: the originals are real English (WordNet 3.0
glosses, "lemma, lemma: definition; examples"), the copies drop ~10% of the words and swap two
letters in ~5% (``text_bench_data.edit_sentence``, as ``bench_text.py dedup-scale`` plants them).
WordNet glosses are not guaranteed pairwise distinct in meaning: a pair of originals the model
links counts as a false positive here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDNET = Path("/usr/share/wordnet")


def wordnet_glosses() -> list[str]:
    """One text per WordNet synset: its lemmas and gloss (``apt install wordnet-base``)."""
    if not (WORDNET / "data.noun").is_file():
        raise SystemExit("the corpus is built from WordNet: apt-get install wordnet-base")
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (WORDNET / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue  # the licence header
            head, gloss = line.split("|", 1)
            f = head.split()
            n = int(f[3], 16)
            lemmas = [w.replace("_", " ") for w in f[4 : 4 + 2 * n : 2]]
            lemmas = [w.split("(")[0] for w in lemmas]  # adjective markers like "(a)"
            out.append(f"{', '.join(dict.fromkeys(lemmas))}: {gloss.strip()}")
    return out


def build_corpus(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """``n`` texts: originals in a random order, each followed by 0-2 edited copies (synthetic),
    then shuffled; returns the texts and each one's planted group."""
    from text_bench_data import edit_sentence

    rng = random.Random(seed)
    bases = wordnet_glosses()
    rng.shuffle(bases)
    texts: list[str] = []
    truth: list[int] = []
    for g, base in enumerate(bases):
        if len(texts) >= n:
            break
        for k in range(1 + rng.choice([0, 0, 1, 2])):
            texts.append(base if k == 0 else edit_sentence(base, rng))
            truth.append(g)
    if len(texts) < n:
        raise SystemExit(f"WordNet gives only {len(texts)} texts with copies; ask for fewer")
    order = list(range(n))
    rng.shuffle(order)
    return [texts[i] for i in order], [truth[i] for i in order]


def corpus(args: argparse.Namespace) -> None:
    texts, truth = build_corpus(args.n, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"t{i:06d}", "text": t}) + "\n")
    (out / "truth.json").write_text(json.dumps({f"t{i:06d}": g for i, g in enumerate(truth)}))
    sizes = Counter(Counter(truth).values())
    planted = sum(c * s * (s - 1) // 2 for s, c in sizes.items())
    words = np.array([len(t.split()) for t in texts])
    print(
        f"{len(texts)} texts in {len(set(truth))} planted groups (sizes: "
        f"{', '.join(f'{s}: {c}' for s, c in sorted(sizes.items()))}), {planted} planted pairs; "
        f"words per text: median {np.median(words):.0f}, mean {words.mean():.1f}, "
        f"max {words.max()} -> {out}/corpus.jsonl, truth.json"
    )


def pair_scores(groups: list[list[str]], truth: dict[str, int]) -> tuple[int, int, int]:
    """``(predicted pairs, planted pairs, pairs both)``, counted per group (no pair sets)."""

    def pairs(n: int) -> int:
        return n * (n - 1) // 2

    pred = sum(pairs(len(g)) for g in groups)
    true = sum(pairs(c) for c in Counter(truth.values()).values())
    both = sum(pairs(c) for g in groups for c in Counter(truth[i] for i in g).values())
    return pred, true, both


def score(args: argparse.Namespace) -> None:
    truth = json.loads((Path(args.corpus) / "truth.json").read_text())
    groups = [
        [m["id"] for m in json.loads(line)["members"]]
        for line in Path(args.groups).read_text().splitlines()
        if line.strip()
    ]
    pred, true, both = pair_scores(groups, truth)
    p, r = both / max(pred, 1), both / max(true, 1)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    sizes = sorted((len(g) for g in groups), reverse=True)
    print(
        f"{len(groups)} groups holding {sum(sizes)} texts (largest {sizes[:5]}); "
        f"{pred} linked pairs, {true} planted, {both} both: "
        f"pair precision {p:.3f}, recall {r:.3f}, F1 {f1:.3f}"
    )


def _read_texts(folder: str, n: int) -> list[str]:
    texts = []
    with (Path(folder) / "corpus.jsonl").open() as f:
        for line in f:
            texts.append(json.loads(line)["text"])
            if len(texts) >= n:
                break
    return texts


def embed_options(args: argparse.Namespace) -> None:
    """Seconds (wall and CPU) to embed the corpus's first ``--n`` texts with the int8 ONNX
    export under each option, interleaved rounds, and the lowest cosine to the baseline."""
    import onnxruntime as ort

    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.embedding import embed_texts
    from siamkit.applications.text.onnx import TextOnnxEmbedder
    from siamkit.applications.text.onnx_export import export_text_onnx

    texts = _read_texts(args.corpus, args.n)
    folder = Path(args.onnx_dir)
    if not (folder / "text.int8.onnx").is_file():
        export_text_onnx(load_text_model(args.model), folder, int8=True)

    def runtime(threads: int, spin: bool = False, level: Any = None) -> TextOnnxEmbedder:
        emb = TextOnnxEmbedder(folder, int8=True, threads=threads, spin=spin)
        if level is not None:  # the same session, another graph optimisation level
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.add_session_config_entry("session.intra_op.allow_spinning", str(int(spin)))
            opts.graph_optimization_level = level
            emb.session = ort.InferenceSession(
                str(folder / "text.int8.onnx"), opts, providers=["CPUExecutionProvider"]
            )
        return emb

    t = args.threads
    now, spin, one = runtime(t), runtime(t, spin=True), runtime(1)
    basic = runtime(t, level=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)

    def by_characters(x: list[str]) -> np.ndarray:
        """How `embed_texts` batched before: 64 texts at a time, sorted by character count."""
        order = np.argsort([-len(t) for t in x], kind="stable")
        z = np.empty((len(x), now.embedding_dim), dtype=np.float32)
        for s in range(0, len(x), 64):
            z[order[s : s + 64]] = now.embed([x[i] for i in order[s : s + 64]])
        return z

    variants: dict[str, Any] = {
        f"as `text dedup` now: all windows sorted by tokens, batch 64, {t} threads, no spinning": (
            lambda x: embed_texts(now, x, batch_size=64).vectors
        ),
        "batches of 64 texts sorted by characters (before)": by_characters,
        f"{t} threads spin-waiting (ONNX Runtime's default; before)": (
            lambda x: embed_texts(spin, x, batch_size=64).vectors
        ),
        "1 thread": lambda x: embed_texts(one, x, batch_size=64).vectors,
        "batch 32": lambda x: embed_texts(now, x, batch_size=32).vectors,
        "batch 128": lambda x: embed_texts(now, x, batch_size=128).vectors,
        "graph optimisation BASIC (default: ALL)": (
            lambda x: embed_texts(basic, x, batch_size=64).vectors
        ),
    }
    keep = [v for v in variants if not args.only or any(s in v for s in args.only)]
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in keep}
    out: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name in keep:
            w, c = time.perf_counter(), time.process_time()
            out[name] = variants[name](texts)
            times[name].append((time.perf_counter() - w, time.process_time() - c))
    base = out[keep[0]]
    print(f"{len(texts)} texts of {args.corpus}, int8 ONNX, median of {args.rounds} rounds\n")
    print("| option | wall s | CPU s | texts/s wall | min cosine to the first row |")
    print("| --- | --- | --- | --- | --- |")
    for name in keep:
        w = float(np.median([x[0] for x in times[name]]))
        c = float(np.median([x[1] for x in times[name]]))
        cos = float((out[name] * base).sum(1).min())
        print(f"| {name} | {w:.1f} | {c:.1f} | {len(texts) / w:.1f} | {cos:.6f} |")


def search(args: argparse.Namespace) -> None:
    """Seconds (wall, CPU) of the pair search over ``--scale`` vectors: FAISS HNSW as `text
    dedup` runs it above 50,000 texts, and the exact blockwise search it runs below. The
    vectors: the int8 embeddings of the corpus's first ``--n`` texts, tiled and moved by noise of
    norm 0.8 (cosine ~0.6 between copies), the first ``--n`` kept as they are (as
    ``bench_text.py dedup-scale``): a search cost at that size, not a quality figure."""
    from siamkit.applications.text.dedup import similar_pairs
    from siamkit.applications.text.embedding import embed_texts
    from siamkit.applications.text.model import DOCUMENT_THRESHOLD
    from siamkit.applications.text.onnx import TextOnnxEmbedder

    z = embed_texts(
        TextOnnxEmbedder(args.onnx_dir, int8=True, threads=args.threads),
        _read_texts(args.corpus, args.n),
    ).vectors
    rng = np.random.default_rng(0)
    big = np.tile(z, (int(np.ceil(args.scale / len(z))), 1))[: args.scale]
    big = big + rng.normal(0, 0.8 / np.sqrt(z.shape[1]), big.shape).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    big[: len(z)] = z
    sim = 1.0 - DOCUMENT_THRESHOLD
    print(f"{len(big)} vectors (synthetic around {len(z)} real ones), similarity >= {sim:.2f}\n")
    print(
        "| search | wall s | CPU s | pairs | pairs among the real rows |\n| --- | --- | --- | --- | --- |"
    )
    for name, above in (("FAISS HNSW (M 32, efSearch 64, k 32)", 0), ("exact, blockwise", 10**9)):
        w, c = time.perf_counter(), time.process_time()
        pairs = similar_pairs(big, sim, faiss_above=above)
        w, c = time.perf_counter() - w, time.process_time() - c
        real = int(((pairs[:, 0] < len(z)) & (pairs[:, 1] < len(z))).sum())
        print(f"| {name} | {w:.1f} | {c:.1f} | {len(pairs)} | {real} |")


_COMMANDS = {"corpus": corpus, "score": score, "embed-options": embed_options, "search": search}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=sorted(_COMMANDS))
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="/tmp/dedup200k", help="corpus: folder to write")
    parser.add_argument("--corpus", default="/tmp/dedup200k", help="folder of corpus.jsonl")
    parser.add_argument("--groups", default="groups.jsonl", help="score: the dedup output")
    parser.add_argument("--model", default=None, help="text model (default all-MiniLM-L6-v2)")
    parser.add_argument("--onnx-dir", default="/tmp/dedup200k/onnx", help="the model's export")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--scale", type=int, default=200_000, help="search: vectors searched")
    parser.add_argument("--only", nargs="*", default=None, help="embed-options: name substrings")
    args = parser.parse_args()
    t = time.time()
    _COMMANDS[args.what](args)
    print(f"\n({args.what}: {time.time() - t:.0f} s)")


if __name__ == "__main__":
    main()
