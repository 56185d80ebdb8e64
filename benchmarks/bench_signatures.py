"""Writer-independent signature verification on SYNTHETIC signatures: siamkit vs the peer recipe.

Protocol: ``siamkit.data.synthetic_signatures`` writers (every figure here is on synthetic data),
split per seed into disjoint train / validation / test writers (60/20/20 %). Both recipes train
the same SigNet-like network (``build_signature_model``) on the same batches of genuine/forged
pairs (``train_signatures``), keep the weights with the best validation EER, and fix the
threshold at the validation writers' skilled-forgery EER. The test writers are touched once:
5 genuine references per writer, the mean distance to them decides; EER (global threshold) and
FAR / FRR at the validation threshold, for skilled forgeries and for random forgeries (one
genuine of every other test writer).

* ``siamkit``: siamkit's contrastive loss (``siamkit.losses.contrastive_loss``, squared
  distances, margin 1.0).
* ``pml-contrastive`` (the peer): pytorch-metric-learning 2.9 ``ContrastiveLoss(pos_margin=0,
  neg_margin=1.0)`` on the very same pairs (given as ``indices_tuple``).
The reduction (mean / min / max distance to the references) is chosen per model on the
validation writers (``--reduce auto``) and shown in brackets.

The network is the signature model ``siamkit train configs/signatures.yaml`` builds: the
SigNet-like CNN joined with HOG-like appearance features (parameter-free, joined to the
learned embedding, weight 1; the loss sees the learned part alone). Each recipe also gets a row
for its learned part alone, and two untrained rows show what the parameter-free features do by
themselves, so it is visible where the figures come from. Seeds 1-3: the recipe (appearance
weight, steps) was looked at on validation writers of seed-0 data only.

* ``raw pixels``: no training, the preprocessed images themselves as embeddings (a floor).

Usage::

    python benchmarks/bench_signatures.py                                # 3 seeds, 150 writers
    python benchmarks/bench_signatures.py --seeds 0 --writers 100 --steps 300   # reduced
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

from siamkit.applications.signatures import (
    REDUCTIONS,
    build_signature_model,
    evaluate_signatures,
)
from siamkit.applications.signatures.config import signature_config_from_dict
from siamkit.applications.signatures.train import embed_signatures, train_signatures, validate
from siamkit.data.signature_set import SignatureSet, synthetic_signature_set, writer_disjoint_split
from siamkit.heads import AppearanceFeatures
from siamkit.models import JoinedEmbedding

RECIPES = {"siamkit": "contrastive", "pml-contrastive": "pml"}


def _row(name: str, seed: int, ev: Any, seconds: float) -> dict[str, Any]:
    return {
        "recipe": name,
        "seed": seed,
        "eer_skilled": ev.skilled.eer,
        "eer_random": ev.random.eer,
        "far_skilled": ev.skilled.far,
        "far_random": ev.random.far,
        "frr": ev.skilled.frr,
        "seconds": seconds,
    }


def _print(r: dict[str, Any]) -> None:
    print(
        f"| {r['recipe']} | {r['seed']} | {r['eer_skilled']:.3f} | {r['eer_random']:.3f} | "
        f"{r['far_skilled']:.3f} | {r['far_random']:.3f} | {r['frr']:.3f} | {r['seconds']:.0f} |",
        flush=True,
    )


def untrained_row(
    name: str, feats: Any, val: SignatureSet, test: SignatureSet, seed: int, refs: int
) -> dict[str, Any]:
    """A parameter-free embedding ``feats(images) -> (N, F)`` under the same protocol."""
    zv, zt = feats(val.images), feats(test.images)
    vals = [evaluate_signatures(zv, val.writer, val.forged, refs, r) for r in REDUCTIONS]
    v = min(vals, key=lambda e: e.skilled.eer + e.random.eer)  # chosen on validation writers
    ev = evaluate_signatures(
        zt, test.writer, test.forged, refs, v.reduce, threshold=v.skilled.eer_threshold
    )
    return _row(f"{name}, untrained ({v.reduce})", seed, ev, 0.0)


def _pixels(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.flatten(1), dim=1)


def run_seed(args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:
    size = tuple(int(v) for v in args.image_size.split(","))
    data = synthetic_signature_set(args.writers, args.genuine, args.forged, seed, size)
    groups = writer_disjoint_split(args.writers, (0.6, 0.2, 0.2), seed)
    train, val, test = (data.subset(g) for g in groups)
    hog = AppearanceFeatures(args.appearance_pool, "hog")
    rows = [
        untrained_row("raw pixels", _pixels, val, test, seed, args.references),
        untrained_row("HOG features", hog, val, test, seed, args.references),
    ]
    for r in rows:
        _print(r)
    for name in args.recipes.split(","):
        cfg = signature_config_from_dict(
            {
                "train": {
                    "steps": args.steps,
                    "loss": RECIPES[name],
                    "seed": seed,
                    "random_fraction": args.random_fraction,
                    "eval_every": max(1, args.steps // 6),
                },
                "eval": {"references": args.references, "reduce": args.reduce},
            }
        )
        t = time.perf_counter()
        torch.manual_seed(seed)
        model = build_signature_model(
            (1, *size), 64, {"stem_stride": args.stem_stride},
            appearance_weight=args.appearance_weight, appearance_pool=args.appearance_pool,
        )  # fmt: skip
        model, _ = train_signatures(model, train, val, cfg.train, cfg.eval)
        seconds = time.perf_counter() - t
        parts = {"joined": model}
        if isinstance(model, JoinedEmbedding):
            parts["learned"] = model.net
        for part, m in parts.items():
            chosen = validate(m, val, cfg.eval)  # reduce and threshold: validation writers
            z = embed_signatures(m, test.images)
            ev = evaluate_signatures(
                z, test.writer, test.forged, args.references, chosen.reduce, m.distance,
                chosen.skilled.eer_threshold,
            )  # fmt: skip
            label = name if part == "joined" else f"{name}, learned part alone"
            rows.append(_row(f"{label} ({chosen.reduce})", seed, ev, seconds))
            _print(rows[-1])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--writers", type=int, default=150)
    ap.add_argument("--genuine", type=int, default=12)
    ap.add_argument("--forged", type=int, default=12)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--references", type=int, default=5)
    ap.add_argument("--random-fraction", type=float, default=0.5)
    ap.add_argument("--reduce", default="auto", help="mean, min, max, or auto (best on validation)")
    ap.add_argument("--image-size", default="78,110")
    ap.add_argument("--stem-stride", type=int, default=3)
    ap.add_argument("--appearance-weight", type=float, default=1.0, help="0: no HOG skip")
    ap.add_argument("--appearance-pool", type=int, default=4)
    ap.add_argument("--recipes", default="siamkit,pml-contrastive")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"SYNTHETIC signatures: {vars(args)}")
    print("| recipe | seed | EER skilled | EER random | FAR skilled | FAR random | FRR | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = [r for seed in (int(s) for s in args.seeds.split(",")) for r in run_seed(args, seed)]
    for name in dict.fromkeys(r["recipe"].split(" (")[0] for r in rows):
        mine = [r for r in rows if r["recipe"].split(" (")[0] == name]
        cells = [
            f"{np.mean([r[k] for r in mine]):.3f} ± {np.std([r[k] for r in mine]):.3f}"
            for k in ("eer_skilled", "eer_random", "far_skilled", "far_random", "frr")
        ]
        print(f"| {name} | mean of {len(mine)} | {' | '.join(cells)} | |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
