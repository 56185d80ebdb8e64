"""Fashion-MNIST class-disjoint benchmark: pytorch-metric-learning peer recipes vs siamkit's demo.

Protocol (DESIGN §4, "fmnist-disjoint"): train on train-split classes 0-5 (10% held out),
test on all test-split images of the unseen classes 6-9. Every recipe is scored by the same code,
``siamkit.evaluation.evaluate_embeddings`` (1,000 seeded 4-way K-shot episodes, all test pairs,
leave-one-out retrieval).

Peer recipes (pytorch-metric-learning 2.9, as in DESIGN §4): a 3-block CNN (conv-BN-ReLU blocks of
32/64/128 channels, 2×2 max-pool, global average pool; the same backbone siamkit uses), a linear
64-d head with L2 normalisation, Adam 1e-3, ``MPerClassSampler`` m=32, batches of 192, no
augmentation:

* ``pml-batch-hard``: ``TripletMarginLoss(margin=0.2)`` + ``BatchHardMiner``
* ``pml-semihard``:   ``TripletMarginLoss(margin=0.2)`` + ``TripletMarginMiner(0.2, "semihard")``
* ``pml-multisim``:   ``MultiSimilarityLoss()`` + ``MultiSimilarityMiner(epsilon=0.1)``

``siamkit-demo`` is ``siamkit demo``'s recipe (``siamkit.training.demo_recipe()``, the same as
``configs/demo.yaml``), trained by siamkit's Trainer. Ablations show where its gain comes from:

* ``siamkit-demo learned part``: a second row from the same trained weights, the learned
  embedding without the appearance features the demo joins to it;
* ``siamkit-cnn-only``: the same recipe trained without the appearance skip (the same learned
  weights as the row above while the skip stays out of the loss, as in the demo recipe);
* ``hog-only``: no training at all, the parameter-free HOG-like features of the demo's skip alone.

Few-shot episodes use all the unseen classes (N = 4 for the default split, 5 for a 5/5 split).

``--cohort train|unlabeled`` also scores every trained model with adaptive S-norm
(``siamkit.distances.CohortNormalized``, the demo's ``eval.score_norm_k`` and ``eval.cohort_size``)
and prints that as a second row per recipe (``<recipe> +snorm``), peers included, from the same
trained weights. ``train`` draws the cohort from the training images (the protocol as written);
``unlabeled`` from Fashion-MNIST's train-split images of the unseen classes, labels unused (a
protocol variant: the test images stay unseen, but their classes' distribution is not).

Usage::

    python benchmarks/bench_fmnist.py                       # all recipes, 5 epochs, seed 0
    python benchmarks/bench_fmnist.py --epochs 1 --recipes siamkit-demo,pml-batch-hard
    python benchmarks/bench_fmnist.py --seeds 0,1,2 --split 0,1,2,3,4,5 --json results.json
    python benchmarks/bench_fmnist.py --split 1,3,5,7,9     # another class split: unseen 0,2,4,6,8
    python benchmarks/bench_fmnist.py --recipes siamkit-demo,pml-batch-hard --cohort unlabeled
    python benchmarks/bench_fmnist.py --recipes siamkit-cnn-only --set 'model.encoder_kwargs={...}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siamkit.distances import CohortNormalized
from siamkit.encode import encode
from siamkit.encoders import create_encoder, encoder_spec
from siamkit.evaluation import evaluate_embeddings
from siamkit.experiment import cohort_images
from siamkit.models import JoinedEmbedding, Preprocess, SiameseNetwork, network_of
from siamkit.training import Trainer, apply_overrides, build_model, demo_recipe, load_run_data
from siamkit.training.builders import build_appearance_features, embedding_model
from siamkit.training.data import RunData, to_float
from siamkit.training.trainer import seed_everything

PEERS = ("pml-batch-hard", "pml-semihard", "pml-multisim")
RECIPES = ("siamkit-demo", "siamkit-cnn-only", "hog-only", *PEERS)
COLUMNS = (
    ("1-shot", "1shot.accuracy"),
    ("5-shot", "5shot.accuracy"),
    ("EER", "verification.eer"),
    ("ROC AUC", "verification.roc_auc"),
    ("P@1", "retrieval.precision_at_1"),
    ("MAP@R", "retrieval.map_at_r"),
    ("TAR@FAR=1e-3", "verification.tar_at_far.0.001"),
    ("R-precision", "retrieval.r_precision"),
    ("MAP (all ranks)", "retrieval.mean_average_precision"),
    ("MRR", "retrieval.mean_reciprocal_rank"),
)


def _pml_parts(recipe: str) -> tuple[Any, Any]:
    from pytorch_metric_learning import losses, miners

    if recipe == "pml-batch-hard":
        return losses.TripletMarginLoss(margin=0.2), miners.BatchHardMiner()
    if recipe == "pml-semihard":
        return losses.TripletMarginLoss(margin=0.2), miners.TripletMarginMiner(
            margin=0.2, type_of_triplets="semihard"
        )
    return losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner(epsilon=0.1)


def train_peer(
    recipe: str, data: RunData, epochs: int, seed: int, progress: bool
) -> SiameseNetwork:
    """A peer recipe with pytorch-metric-learning's loss, miner and sampler in a plain loop."""
    from pytorch_metric_learning.samplers import MPerClassSampler
    from tqdm.auto import tqdm

    seed_everything(seed)
    mean, std = data.channel_stats()
    enc = create_encoder("convnet", in_channels=1, widths=(32, 64, 128))
    net = SiameseNetwork(enc, embedding_dim=64, preprocess=Preprocess(mean, std, data.input_shape))
    loss_fn, miner = _pml_parts(recipe)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    labels = data.train_y.numpy()
    # m = 32 per class, batches of 192 (6 classes); splits with fewer train classes get m × classes
    batch = 32 * min(6, len(np.unique(labels)))
    sampler = MPerClassSampler(labels, m=32, batch_size=batch, length_before_new_iter=len(labels))
    for epoch in range(epochs):
        order = torch.tensor(list(iter(sampler)))
        batches = order[: len(order) // batch * batch].view(-1, batch)
        net.train()
        for idx in tqdm(
            batches,
            desc=f"{recipe} epoch {epoch + 1}/{epochs}",
            leave=False,
            disable=not progress,
            mininterval=2,
        ):
            x, y = to_float(data.train_x[idx]), data.train_y[idx]
            z = net.embed(x, check=False)
            loss = loss_fn(z, y, miner(z, y))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


def train_siamkit(
    data: RunData,
    epochs: int | None,
    seed: int,
    progress: bool,
    skip: bool = True,
    overrides: tuple[str, ...] = (),
) -> SiameseNetwork | JoinedEmbedding:
    """The demo recipe through siamkit's Trainer (its own epochs unless ``epochs`` is given),
    joined with its appearance features; ``skip=False`` drops them (the CNN-only ablation).
    ``overrides`` (``--set KEY=VALUE``) change the recipe after that, e.g. a recipe chosen on
    validation classes."""
    sets = [f"train.seed={seed}", "train.device=cpu"] + (
        [f"train.epochs={epochs}"] if epochs else []
    )
    if not skip:
        sets.append("model.appearance=null")
    sets += list(overrides)
    cfg = apply_overrides(demo_recipe(), sets)
    seed_everything(seed)
    mean, std = data.channel_stats()
    net = build_model(cfg.model, data.input_shape, mean, std)
    Trainer.from_config(net, cfg, data, progress=progress).fit()
    return embedding_model(net, cfg.model).eval()


def without_taps(net: SiameseNetwork) -> SiameseNetwork:
    """``net``'s trained weights in the same network with its ConvNet taps off (they have no
    weights): the embedding of the projection head alone."""
    spec = encoder_spec(net.encoder)
    kwargs = {k: v for k, v in spec["kwargs"].items() if not k.startswith("tap")}
    plain = SiameseNetwork(
        create_encoder(spec["name"], **kwargs),
        net.head.embedding_dim,
        head_hidden=net.head.hidden,
        preprocess=net.preprocess,
    )
    plain.load_state_dict(net.state_dict())
    return plain.eval()


def run_one(
    recipe: str, data: RunData, args: argparse.Namespace, seed: int
) -> dict[str, dict[str, float]]:
    """Train one recipe, then evaluate it on the unseen test classes: ``{row name: metrics}``,
    with a row for the demo's learned part alone, and one scored with adaptive S-norm when
    ``args.cohort`` names a cohort."""
    t0 = time.perf_counter()
    progress = not args.no_progress
    distance: Any = "euclidean"
    if recipe == "hog-only":
        features = build_appearance_features(demo_recipe().model)
        assert features is not None  # the demo recipe has them

        def embed(images: torch.Tensor) -> torch.Tensor:
            x = to_float(images)
            return torch.cat([features(x[i : i + 1000]) for i in range(0, len(x), 1000)])

    else:
        if recipe in ("siamkit-demo", "siamkit-cnn-only"):
            net = train_siamkit(
                data,
                args.siamkit_epochs,
                seed,
                progress,
                skip=recipe == "siamkit-demo",
                overrides=tuple(args.sets),
            )
        else:
            net = train_peer(recipe, data, args.epochs, seed, progress)

        def embed(images: torch.Tensor) -> torch.Tensor:
            return encode(net, images, device="cpu")

        distance = net.distance
    z = embed(data.test_x)
    train_s = time.perf_counter() - t0
    scorings = {recipe: (z, distance)}
    if recipe == "siamkit-demo" and isinstance(net, JoinedEmbedding):  # its network alone
        learned = encode(net.net, data.test_x, device="cpu")
        scorings[f"{recipe} learned part"] = (learned, distance)
    if recipe != "hog-only" and getattr(network_of(net).encoder, "taps", ()):
        # the same trained weights without the ConvNet taps: the deep head's embedding alone
        plain = without_taps(network_of(net))
        scorings[f"{recipe} without taps"] = (encode(plain, data.test_x, device="cpu"), distance)
    if args.cohort != "none":
        cfg = apply_overrides(
            demo_recipe(),
            [f"data.train_classes={list(data.train_classes)}", f"eval.cohort={args.cohort}"],
        )  # the cohort `siamkit train` would take with eval.score_norm on
        cohort = embed(cohort_images(data, cfg))
        scorings[f"{recipe} +snorm"] = (
            z,
            CohortNormalized(distance, cohort, cfg.eval.score_norm_k, "snorm"),
        )
    n_way = len(data.test_classes)
    rows = {}
    for name, (emb, dist) in scorings.items():
        report = evaluate_embeddings(
            emb,
            data.test_y,
            dist,
            few_shot=((n_way, 1), (n_way, 5)),
            episodes=args.episodes,
            seed=0,
        )
        flat = report.flat()
        rows[name] = {
            col: flat[f"few_shot.{n_way}way{key}" if "shot" in key else key] for col, key in COLUMNS
        }
        rows[name]["train s"] = train_s
    return rows


def format_rows(rows: dict[str, list[dict[str, float]]], n_way: int = 4) -> str:
    """Mean (± std over seeds when there are several) per recipe and metric."""
    header = ["recipe", *(c for c, _ in COLUMNS), "train s"]
    shown = [f"{n_way}-way {c}" if "shot" in c else c for c in header]
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(header)]
    for recipe, runs in rows.items():
        cells = [recipe]
        for col in header[1:]:
            vals = np.array([r[col] for r in runs])
            fmt = "{:.0f}" if col == "train s" else "{:.3f}"
            cell = fmt.format(vals.mean())
            if len(vals) > 1 and col != "train s":
                cell += f" ± {vals.std(ddof=1):.3f}"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--epochs", type=int, default=5, help="epochs of the peer recipes (DESIGN §4: 5)"
    )
    ap.add_argument(
        "--siamkit-epochs", type=int, help="epochs of siamkit's recipe [default: its own]"
    )
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        dest="sets",
        metavar="KEY=VALUE",
        help="override the siamkit recipes' config (repeatable), e.g. a recipe chosen on "
        "validation classes with benchmarks/val_folds.py",
    )
    ap.add_argument(
        "--split",
        default="0,1,2,3,4,5",
        help="train classes (the rest are the unseen test classes)",
    )
    ap.add_argument(
        "--recipes",
        default=",".join(RECIPES),
        help=f"comma-separated subset of {', '.join(RECIPES)}",
    )
    ap.add_argument(
        "--cohort",
        choices=("none", "train", "unlabeled"),
        default="none",
        help="also score each model with adaptive S-norm against this cohort (a second row)",
    )
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--limit", type=int, help="train on at most this many images (smoke runs only)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--json", dest="json_path", help="also write the raw results here")
    ap.add_argument(
        "--write-peers",
        action="store_true",
        help="record the peer recipes' rows in src/siamkit/evaluation/peers.json, which siamkit "
        "demo and its report read (full runs only: every seed, no --limit)",
    )
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = sorted(set(recipes) - set(RECIPES))
    if unknown:
        ap.error(f"unknown recipe(s) {unknown}; choose from {', '.join(RECIPES)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    split = [int(c) for c in args.split.split(",")]
    sets = [
        f"data.train_classes={split}",
        f"data.limit={'null' if args.limit is None else args.limit}",
    ]
    data = load_run_data(apply_overrides(demo_recipe(), sets).data)
    print(f"fmnist-disjoint: train classes {list(data.train_classes)} ({len(data.train_y)} images), "
          f"test classes {list(data.test_classes)} ({len(data.test_y)} images); peers {args.epochs} epochs, "
          f"siamkit {args.siamkit_epochs or demo_recipe().train.epochs}; seeds {seeds}",
          flush=True)  # fmt: skip
    rows: dict[str, list[dict[str, float]]] = {}
    for recipe in recipes:
        for seed in seeds[:1] if recipe == "hog-only" else seeds:  # hog-only has nothing random
            for name, row in run_one(recipe, data, args, seed).items():
                rows.setdefault(name, []).append(row)
                print(
                    f"{name} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()),
                    flush=True,
                )
    print()
    print(format_rows(rows, len(data.test_classes)))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({"args": vars(args), "results": rows}, indent=2))
    if args.write_peers:
        write_peers(rows, data, seeds, args)
    return 0


def write_peers(
    rows: dict[str, list[dict[str, float]]], data: RunData, seeds: list[int], args: Any
) -> None:
    """Store the peers' raw rows (not the +snorm variant) where the demo and report read them."""
    from datetime import date

    from siamkit.evaluation.peers import record_peers

    if args.limit is not None or args.episodes != 1000:
        raise SystemExit(
            "--write-peers records full protocol runs only (no --limit, 1000 episodes)"
        )
    peers = {name: runs for name, runs in rows.items() if name in PEERS}
    if not peers:
        raise SystemExit("--write-peers: no peer recipe ran (add one of " + ", ".join(PEERS) + ")")
    command = "python benchmarks/bench_fmnist.py " + " ".join(sys.argv[1:])
    path = record_peers(
        peers, "fashion-mnist", data.train_classes, seeds, command, date.today().isoformat()
    )
    print(f"peers recorded in {path}")


if __name__ == "__main__":
    sys.exit(main())
