"""In-domain adaptation of the text model without labels, for the Lee benchmark (issue 16).

Each Lee *background* document (lee_background.cor, 300 news articles; none of the 50 rated Lee
documents) with at least 4 sentences gives one (first half, second half) pair; the twin is
trained to match a document's halves against the other documents' halves in the batch
(multiple-negatives ranking), through `siamkit train`'s text task. No Lee score is read.

    nice python benchmarks/text_lee_adapt.py --out runs/lee-adapt --seed 0
    nice python benchmarks/text_lee_val.py --recipes zero --model runs/lee-adapt/model
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from siamkit.applications.text.passages import split_sentences
from text_bench_data import lee_background


def half_pairs(docs: list[str], min_sentences: int = 4) -> list[tuple[str, str]]:
    """(first half, second half) of every document with at least ``min_sentences`` sentences."""
    out = []
    for d in docs:
        s = [p.text for p in split_sentences(d)]
        if len(s) >= min_sentences:
            k = len(s) // 2
            out.append((" ".join(s[:k]), " ".join(s[k:])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    from siamkit.training.tasks import TaskOptions, get_task

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pairs = half_pairs(lee_background())
    data = out / "halves.csv"
    with data.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["anchor", "positive"])
        w.writerows(pairs)
    cfg = {
        "model": {"path": None},
        "data": {"train": str(data), "format": "anchor_positive", "val_fraction": 0},
        "loss": {"name": "mnrl"},
        "train": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "warmup": 0.1,
            "seed": args.seed,
        },
    }
    t0 = time.time()
    summary = get_task("text")(cfg, out / "run", TaskOptions(progress=False))
    print(f"{len(pairs)} half-document pairs, {time.time() - t0:.0f} s -> {summary.model_dir}")


if __name__ == "__main__":
    main()
