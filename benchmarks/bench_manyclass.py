"""Many-class few-image benchmark (Omniglot's shape, SYNTHETIC glyphs): siamkit's default recipe
vs the pytorch-metric-learning peer, N-way K-shot on unseen classes.

Data: :mod:`siamkit.data.synthetic_glyphs` (seed 0) written as an image folder, one sub-folder
per class, 20 drawings of each, 28 × 28: classes 0-399 train, 400-499 validation (held out of the
training classes: ``data.val_classes``), 500-699 the unseen test classes. Loaded by the same code
``siamkit train`` uses for ``data.dataset: image-folder`` (``load_run_data``).

Recipes, the same network (ConvNet 32/64/128, 64-d head) and the same epochs:

* ``siamkit-demo learned``: ``configs/demo.yaml``'s recipe (batch-hard triplets, margin 0.2,
  "nonzero" averaging, 6 × 32 P×K batches, Adam 1e-3, weight average 0.998, 10 epochs) without
  the HOG appearance skip, and with the input normalisation computed from the training images
  (the demo's constants are Fashion-MNIST's), trained by siamkit's Trainer;
* ``pml-batch-hard``: ``TripletMarginLoss(0.2)`` + ``BatchHardMiner``, ``MPerClassSampler`` m = 32,
  batches of 192, Adam 1e-3, as in ``benchmarks/bench_fmnist.py`` (the same code);
* ``pixels``: no training, L2-normalised raw pixels (for scale).

Nothing is chosen here: both recipes run as written. The validation classes are scored too
(20-way 1-shot, EER), the figures a recipe choice may use; the test classes are scored once.
Evaluation: 1,000 seeded episodes per setting, 5- and 20-way, 1- and 5-shot, 15 queries;
verification EER over all test pairs; leave-one-out P@1.

Usage::

    nice -n 10 python benchmarks/bench_manyclass.py                  # ~10 min on 2 busy cores
    python benchmarks/bench_manyclass.py --epochs 2 --train 100 --test 50 --episodes 200
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from siamkit.data.synthetic_glyphs import write_glyph_folder
from siamkit.encode import encode
from siamkit.evaluation import evaluate_embeddings
from siamkit.models import SiameseNetwork
from siamkit.training import Trainer, apply_overrides, build_model, demo_recipe, load_run_data
from siamkit.training.config import DataConfig, RunConfig
from siamkit.training.data import RunData, to_float
from siamkit.training.trainer import seed_everything

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fmnist import train_peer

SETTINGS = ((5, 1), (20, 1), (5, 5), (20, 5))


def load(root: Path, n_train: int, n_val: int, n_test: int) -> RunData:
    """The image folder split as ``siamkit train`` splits it: explicit train and val classes."""
    train = list(range(n_train + n_val))
    cfg = DataConfig(
        dataset="image-folder", root=str(root), image_size=28, grayscale=True,
        train_classes=tuple(train), val_classes=tuple(range(n_train, n_train + n_val)),
    )  # fmt: skip
    data = load_run_data(cfg)
    assert len(data.test_classes) == n_test
    return data


def siamkit_config(epochs: int, seed: int, data: RunData, sets: list[str]) -> RunConfig:
    """The demo recipe's learned part, unchanged otherwise (``sets``: a variant's overrides)."""
    return apply_overrides(
        demo_recipe(),
        [
            "model.appearance_skip_weight=0",
            "model.input_mean=null",
            "model.input_std=null",
            f"train.epochs={epochs}",
            f"train.seed={seed}",
            "train.device=cpu",
            f"data.train_classes={list(data.train_classes) + list(data.val_classes)}",
            f"data.val_classes={list(data.val_classes)}",
            *sets,
        ],
    )


def train_siamkit(
    data: RunData, epochs: int, seed: int, progress: bool, sets: list[str]
) -> SiameseNetwork:
    cfg = siamkit_config(epochs, seed, data, sets)
    seed_everything(seed)
    mean, std = data.channel_stats()
    net = build_model(cfg.model, data.input_shape, mean, std)
    Trainer.from_config(net, cfg, data, progress=progress).fit()
    return net.eval()


def score(z: torch.Tensor, y: torch.Tensor, distance: Any, episodes: int) -> dict[str, float]:
    c = int(torch.unique(y).numel())  # a small trial run may have fewer than 20 classes
    settings = [(min(n, c), k) for n, k in SETTINGS]
    rep = evaluate_embeddings(z, y, distance, few_shot=settings, episodes=episodes, seed=0)
    flat = rep.flat()
    out = {
        f"{n}w{k}s": flat[f"few_shot.{m}way{k}shot.accuracy"]
        for (n, k), (m, _) in zip(SETTINGS, settings)
    }
    out["EER"] = flat["verification.eer"]
    out["P@1"] = flat["retrieval.precision_at_1"]
    return out


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    n = args.train + args.val + args.test
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = write_glyph_folder(Path(tmp) / "glyphs", n, per_class=20, seed=args.data_seed)
        data = load(root, args.train, args.val, args.test)
    print(
        f"synthetic glyphs: {n} classes x 20 images, 28x28 (seed {args.data_seed}), written and "
        f"loaded in {time.perf_counter() - t0:.0f} s; train {len(data.train_classes)} classes / "
        f"{len(data.train_y)} images, validation {len(data.val_classes)} classes, "
        f"unseen test {len(data.test_classes)} classes / {len(data.test_y)} images",
        flush=True,
    )
    rows: dict[str, dict[str, float]] = {}
    for recipe in args.recipes.split(","):
        t0 = time.perf_counter()
        if recipe == "pixels":

            def embed(x: torch.Tensor) -> torch.Tensor:
                return torch.nn.functional.normalize(to_float(x).flatten(1), dim=1)

            distance: Any = "euclidean"
        else:
            if recipe == "siamkit-demo-learned":
                net = train_siamkit(data, args.epochs, args.seed, not args.no_progress, args.set)
            elif recipe == "pml-batch-hard":
                net = train_peer(recipe, data, args.epochs, args.seed, not args.no_progress)
            else:
                raise SystemExit(f"unknown recipe {recipe!r}")

            def embed(x: torch.Tensor, net: SiameseNetwork = net) -> torch.Tensor:
                return encode(net, x, device="cpu")

            distance = net.distance
        train_s = time.perf_counter() - t0
        val = score(embed(data.val_x), data.val_y, distance, args.episodes)
        test = score(embed(data.test_x), data.test_y, distance, args.episodes)
        name = recipe
        if args.set and recipe.startswith("siamkit"):
            name = f"{recipe} ({', '.join(args.set)})"
        rows[name] = {**{f"test {k}": v for k, v in test.items()},
                        "val 20w1s": val["20w1s"], "val EER": val["EER"], "train s": train_s}  # fmt: skip
        print(f"{name}: {json.dumps({k: round(v, 4) for k, v in rows[name].items()})}", flush=True)
    return rows


def format_rows(rows: dict[str, dict[str, float]]) -> str:
    cols = list(next(iter(rows.values())))
    lines = ["| recipe | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in rows.items():
        cells = [f"{r[c]:.0f}" if c == "train s" else f"{r[c]:.3f}" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ours_name = next((k for k in rows if k.startswith("siamkit")), None)
    if ours_name is not None and "pml-batch-hard" in rows:
        ours, peer = rows[ours_name], rows["pml-batch-hard"]
        ratio = [f"{ours[c] / peer[c]:.2f}" if peer[c] else "-" for c in cols if c != "train s"]
        lines.append("| ratio siamkit / peer | " + " | ".join(ratio) + " | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=int, default=400, help="training classes")
    ap.add_argument("--val", type=int, default=100, help="validation classes (held out)")
    ap.add_argument("--test", type=int, default=200, help="unseen test classes")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--recipes", default="siamkit-demo-learned,pml-batch-hard,pixels")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override siamkit's recipe (a variant to compare on the validation classes)",
    )  # fmt: skip
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = run(args)
    print("\nSYNTHETIC glyphs, unseen test classes (5/20-way K-shot accuracy, EER, P@1); "
          "validation classes (20-way 1-shot, EER)\n")  # fmt: skip
    print(format_rows(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
