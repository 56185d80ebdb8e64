"""Self-supervised Siamese learning on Fashion-MNIST ("fmnist-ssl"), side by side with lightly.

Protocol: self-supervised training on the train-split images of classes 0-5 with their labels
removed (the fmnist-disjoint training images; the 10% validation hold-out only feeds the kNN
monitor that picks the best method), then DESIGN §4 on the unseen classes 6-9 (4-way 1-shot and
5-shot, EER, MAP@R over the 4,000 test images) and kNN accuracy (k = 20, cosine) on the 10-class
test split with the train split as memory. Every row is scored by the same code.

Rows:

* ``raw-pixels``: flattened, L2-normalised pixels; no training.
* ``siamkit-<method>``: ``task: ssl`` (SimCLR, SimSiam, BYOL, VICReg) on a ConvNet with a
  128-d embedding, the same views, epochs and batch size for all.
* ``lightly-simclr`` / ``lightly-simsiam``: the peer: lightly's ``SimCLRProjectionHead`` +
  ``NTXentLoss`` and ``SimSiamProjectionHead`` + ``SimSiamPredictionHead`` +
  ``NegativeCosineSimilarity`` (lightly's own files, loaded without torchvision by
  ``siamkit.applications.ssl.peer``) on the same backbone, views, epochs, batch size and loop.
* ``finetune-from-ssl`` / ``finetune-from-scratch``: 10 labels per class (60 images) of classes
  0-5, the same supervised recipe (batch-hard triplets), started from the siamkit method with the
  best *validation* kNN, or from random weights.

Throughput: images/s of a siamkit SimCLR epoch (the Trainer's epoch over ViewPairBatches)
against a bare loop (same views, forward, backward and step). ``--rows ""`` measures only that.

Every row trains with ``--config`` (the shipped ``configs/simclr.yaml``, what a user's run
trains), its method and seed, the sizes below and ``--set`` overrides on top. (Before
2026-12-03's seventh stop the rows used the dataclass defaults, which differ from the YAML only
in ``optim.warmup_fraction``: 0.15 there, 0.1 in the YAML and in ``ssl_val.py``.)

Usage (the full protocol; about 30 CPU-minutes a seed at these sizes on an idle 2-core machine)::

    python benchmarks/bench_ssl.py --seeds 0,1,2 --epochs 20
    python benchmarks/bench_ssl.py --seeds 0 --epochs 3 --images 6000 --episodes 300 \
        --knn-memory 10000 --widths 16,32,64          # the reduced run in BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch import Tensor, nn

from siamkit import save_model
from siamkit.applications.ssl.config import (
    SSLConfig,
    apply_ssl_overrides,
    ssl_config_from_dict,
)
from siamkit.applications.ssl.data import SSLData, load_ssl_data
from siamkit.applications.ssl.methods import EMBEDS, METHODS, embedding_network, trained_dim
from siamkit.applications.ssl.peer import lightly_modules
from siamkit.applications.ssl.task import build_ssl_model
from siamkit.applications.ssl.trainer import build_ssl_trainer
from siamkit.applications.ssl.views import ViewMaker
from siamkit.data.fashion_mnist import load_fashion_mnist
from siamkit.encode import encode
from siamkit.encoders import encoder_spec
from siamkit.evaluation import evaluate_embeddings
from siamkit.evaluation.retrieval import knn_accuracy
from siamkit.models import SiameseNetwork
from siamkit.training import RunConfig, Trainer, apply_overrides, build_model, load_run_data
from siamkit.training.init_from import init_from_model
from siamkit.training.trainer import seed_everything

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[1]


class LightlyPeer(nn.Module):
    """lightly's heads and losses around the same network; the interface build_ssl_trainer drives."""

    def __init__(self, net: SiameseNetwork, method: str, proj_dim: int, hidden: int) -> None:
        super().__init__()
        lt = lightly_modules()
        d = self.dim = trained_dim(net)  # as siamkit's projector: untrained taps stay out
        self.method, self.online, self.average = method, net, None
        if method == "simclr":
            self.projector = lt["SimCLRProjectionHead"](d, hidden, proj_dim)
            self.criterion = lt["NTXentLoss"](temperature=0.2)
            self.predictor = None
        else:
            self.projector = lt["SimSiamProjectionHead"](d, hidden, proj_dim)
            self.predictor = lt["SimSiamPredictionHead"](proj_dim, proj_dim // 2, proj_dim)
            self.criterion = lt["NegativeCosineSimilarity"]()

    @property
    def net(self) -> SiameseNetwork:
        return self.online

    def forward(self, x: Tensor) -> Tensor:
        """Both views stacked ``(2N, ...)`` -> projections, or (projection, prediction) rows."""
        z = self.projector(self.online.embed(x, check=False)[:, : self.dim])
        return z if self.predictor is None else torch.cat([z, self.predictor(z)], dim=1)

    def objective(self, out: Tensor, labels: Tensor | None = None, indices: Any = None) -> Tensor:
        n = out.shape[0] // 2
        if self.predictor is None:
            return self.criterion(out[:n], out[n:])  # type: ignore[no-any-return]
        d = out.shape[1] // 2
        z1, z2, p1, p2 = out[:n, :d], out[n:, :d], out[:n, d:], out[n:, d:]
        return 0.5 * (self.criterion(p1, z2.detach()) + self.criterion(p2, z1.detach()))

    def after_step(self, step: int, total: int) -> None:
        pass


def scores(z: Tensor, y: Tensor, episodes: int, seed: int) -> dict[str, float]:
    rep = evaluate_embeddings(z, y, "euclidean", episodes=episodes, seed=seed).to_dict()
    return {
        "1shot": rep["few_shot"]["4way1shot"]["accuracy"],
        "5shot": rep["few_shot"]["4way5shot"]["accuracy"],
        "eer": rep["verification"]["eer"],
        "map_at_r": rep["retrieval"]["map_at_r"],
    }


class Bench:
    """The data and the scoring, shared by every row."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        xte, yte = load_fashion_mnist("test")
        xtr, ytr = load_fashion_mnist("train")
        unseen = yte >= 6
        self.test_x, self.test_y = xte[unseen].unsqueeze(1), yte[unseen]
        self.knn_q, self.knn_qy = xte.unsqueeze(1), yte
        pick = torch.randperm(len(ytr), generator=torch.Generator().manual_seed(0))
        pick = pick[: args.knn_memory] if args.knn_memory else pick
        self.knn_m, self.knn_my = xtr[pick].unsqueeze(1), ytr[pick]

    def embed(self, net: SiameseNetwork, x: Tensor) -> Tensor:
        return encode(net, x, batch_size=1024, device=CPU)

    def row(self, z_test: Tensor, z_mem: Tensor, z_q: Tensor, seed: int) -> dict[str, float]:
        out = scores(z_test, self.test_y, self.args.episodes, seed)
        out["knn20"] = knn_accuracy(z_mem, self.knn_my, z_q, self.knn_qy, k=20, distance="cosine")
        return out

    def score_net(self, net: SiameseNetwork, seed: int) -> dict[str, float]:
        net.eval()
        return self.row(
            self.embed(net, self.test_x), self.embed(net, self.knn_m), self.embed(net, self.knn_q),
            seed,
        )  # fmt: skip

    def raw(self, seed: int) -> dict[str, float]:
        def flat(x: Tensor) -> Tensor:
            return F.normalize(x.flatten(1).float() / 255.0, dim=1)

        return self.row(flat(self.test_x), flat(self.knn_m), flat(self.knn_q), seed)


def ssl_config(args: argparse.Namespace, method: str, seed: int) -> SSLConfig:
    """``--config`` (the shipped ``configs/simclr.yaml``: what a user's run trains) with this
    row's method and seed, the protocol's sizes and ``--set`` on top: the same for every row."""
    doc = yaml.safe_load(Path(args.config).read_text())
    doc.pop("task", None)
    sets = [
        f"method={method}", f"train.epochs={args.epochs}", f"train.batch_size={args.batch}",
        f"train.seed={seed}", "train.device=cpu", "train.monitor_images=1000",
        f"data.limit={'null' if args.images is None else args.images}",
        *([f"train.threads={args.threads}"] if args.threads else []),
        *([f"ssl.embed={args.embed}"] if args.embed else []),
        *args.sets,
    ]  # fmt: skip
    doc = apply_ssl_overrides(doc, sets)
    if args.widths:
        doc["model"] = {**doc.get("model", {})}
        doc["model"]["encoder_kwargs"] = {
            **doc["model"].get("encoder_kwargs", {}),
            "widths": args.widths,
        }
    return ssl_config_from_dict(doc)


def train_ssl(
    cfg: SSLConfig, data: SSLData, peer: str | None
) -> tuple[SiameseNetwork, list[dict[str, Any]]]:
    model: Any = build_ssl_model(cfg, data)
    if peer is not None:
        model = LightlyPeer(model.net, peer, cfg.ssl.proj_dim, cfg.ssl.proj_hidden)
    log = lambda s: print("   ", s, flush=True)  # noqa: E731
    trainer, _ = build_ssl_trainer(model, cfg, data, progress=False, log=log)
    history = trainer.fit().history
    # every row, lightly's too, embeds the way a siamkit SSL run saves its model (ssl.embed)
    return embedding_network(model.net, cfg.ssl.embed), history


def finetune(
    args: argparse.Namespace,
    seed: int,
    source: Path | None,
    shape: SiameseNetwork,
    extra: Sequence[str] = (),
) -> SiameseNetwork:
    """Batch-hard triplets on 10 labels per class of 0-5, from ``source`` or from scratch, with
    the encoder and embedding size of ``shape`` (the SSL model: both start from its shape);
    ``extra`` overrides come last (``ssl_val.py`` sets a fold's classes and a candidate's recipe)."""
    kwargs = json.dumps(encoder_spec(shape.encoder)["kwargs"])
    dim = shape.head.embedding_dim
    cfg = apply_overrides(RunConfig(), [
        "data.labels_per_class=10", f"model.encoder_kwargs={kwargs}",
        f"model.embedding_dim={dim}", "loss.kind=triplet", "loss.mining=batch_hard",
        "optim.optimizer=adam", "optim.lr=0.0005", "optim.schedule=constant", "optim.weight_decay=0",
        f"train.epochs={args.ft_epochs}", "train.classes_per_batch=6", "train.samples_per_class=10",
        "train.steps_per_epoch=10", f"train.seed={seed}", "train.device=cpu", "train.val_metric=none",
        *extra,
    ])  # fmt: skip
    data = load_run_data(cfg.data)
    seed_everything(seed)
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    if source is not None:
        init_from_model(net, source)
    Trainer.from_config(net, cfg, data, progress=False).fit()
    return net


def throughput(cfg: SSLConfig, data: SSLData, steps: int) -> tuple[float, float]:
    """(images/s of siamkit's training epoch, images/s of a bare loop) over ``steps`` batches."""
    cfg = dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, epochs=1, steps_per_epoch=steps)
    )
    model = build_ssl_model(cfg, data)
    trainer, _ = build_ssl_trainer(model, cfg, data, progress=False)
    t0 = time.perf_counter()
    trainer._epoch(0)  # the Trainer's epoch: batches, views, steps, schedule, callbacks' step hooks
    ours = steps * cfg.train.batch_size / (time.perf_counter() - t0)
    model = build_ssl_model(cfg, data)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)
    views, gen, b = ViewMaker(cfg.views), torch.Generator().manual_seed(0), cfg.train.batch_size
    x_all = data.train_x[: steps * b].float() / 255.0
    t0 = time.perf_counter()
    for s in range(steps):
        v1, v2 = views.pair(x_all[s * b : (s + 1) * b], gen)
        loss = model.loss(v1, v2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    bare = steps * b / (time.perf_counter() - t0)
    return ours, bare


def run_seed(args: argparse.Namespace, bench: Bench, seed: int) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {"raw-pixels": bench.raw(seed)}
    data = load_ssl_data(ssl_config(args, "simclr", seed).data)
    best: tuple[float, str, SiameseNetwork] | None = None
    for name in args.rows:
        method, peer = (
            (name.split("-")[1], name.split("-")[1])
            if name.startswith("lightly-")
            else (name, None)
        )
        print(f"[seed {seed}] {name} ...", flush=True)
        t0 = time.perf_counter()
        net, history = train_ssl(ssl_config(args, method, seed), data, peer)
        rows[name if peer else f"siamkit-{name}"] = {**bench.score_net(net, seed), "val_knn": history[-1]["knn"],
                                                     "train_s": time.perf_counter() - t0}  # fmt: skip
        if peer is None and (best is None or history[-1]["knn"] > best[0]):
            best = (history[-1]["knn"], name, net)  # chosen on validation images, not test
    if best is not None and args.ft_epochs > 0:
        with tempfile.TemporaryDirectory() as tmp:
            src = save_model(best[2].cpu(), Path(tmp) / "model")
            # one row name for every seed (each seed may pick another method: it is printed)
            print(f"[seed {seed}] fine-tuning from siamkit-{best[1]} (best validation kNN)")
            rows["finetune-from-ssl"] = bench.score_net(finetune(args, seed, src, best[2]), seed)
        rows["finetune-from-scratch"] = bench.score_net(finetune(args, seed, None, best[2]), seed)
    return rows


def print_table(results: list[dict[str, dict[str, float]]]) -> None:
    cols = ["1shot", "5shot", "eer", "map_at_r", "knn20"]
    print(
        f"\n| row | {' | '.join(['4-way 1-shot', '4-way 5-shot', 'EER', 'MAP@R', 'kNN k=20 (10-class)'])} |"
    )
    print("| --- |" + " --- |" * len(cols))
    for name in results[0]:
        if any(name not in r for r in results):
            continue
        cells = []
        for c in cols:
            v = np.array([r[name][c] for r in results])
            cells.append(f"{v.mean():.3f}" + (f" ± {v.std():.3f}" if len(v) > 1 else ""))
        print(f"| {name} | {' | '.join(cells)} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="0")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--images", type=int, default=None, help="training images (default: all 32,400)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument(
        "--config",
        default=str(ROOT / "configs" / "simclr.yaml"),
        help="the SSL recipe every row trains with (method, seed and sizes set per row)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        dest="sets",
        metavar="KEY=VALUE",
        help="override the config for every row, e.g. 'views.crop_scale=[0.5,1.0]'",
    )
    p.add_argument(
        "--widths", default=None, help="ConvNet widths, e.g. 16,32,64 (default: the config's)"
    )
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument(
        "--knn-memory", type=int, default=0, help="train-split images as kNN memory (0: all)"
    )
    p.add_argument("--ft-epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--rows", default=",".join([*METHODS, "lightly-simclr", "lightly-simsiam"]))
    p.add_argument("--throughput-steps", type=int, default=20)
    p.add_argument(
        "--throughput-only",
        type=int,
        default=0,
        metavar="N",
        help="only measure throughput, N times interleaved (siamkit, bare, siamkit, bare, ...)",
    )
    p.add_argument(
        "--embed", choices=EMBEDS, default=None,
        help="what every SSL row embeds with (default: the config's ssl.embed): the trained "
        "embedding head or the backbone's pooled features (the 2026-12-03 sixth-stop test run)",
    )  # fmt: skip
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.widths = [int(w) for w in args.widths.split(",")] if args.widths else None
    args.rows = [r for r in args.rows.split(",") if r]
    try:  # a bad --config or --set is one line before any data loads, not a traceback later
        ssl_config(args, "simclr", 0)
    except (OSError, ValueError, yaml.YAMLError) as err:
        p.error(str(err))
    if args.throughput_only:
        if args.threads:
            torch.set_num_threads(args.threads)
        cfg = ssl_config(args, "simclr", 0)
        data = load_ssl_data(cfg.data)
        pairs = [throughput(cfg, data, args.throughput_steps) for _ in range(args.throughput_only)]
        for k, (ours, bare) in enumerate(pairs):
            print(f"round {k}: siamkit epoch {ours:.0f} images/s, bare loop {bare:.0f} images/s "
                  f"({ours / bare:.2f}x)")  # fmt: skip
        ratios = [o / b for o, b in pairs]
        print(f"median of the rounds' ratios: {np.median(ratios):.2f}x (min {min(ratios):.2f}x); "
              f"median images/s: siamkit {np.median([p[0] for p in pairs]):.0f}, "
              f"bare {np.median([p[1] for p in pairs]):.0f}")  # fmt: skip
        return 0
    bench = Bench(args)
    results = [run_seed(args, bench, int(s)) for s in args.seeds.split(",")]
    if args.json:  # written first: the figures outlive any failure of the printing below
        args.json.write_text(
            json.dumps(
                {"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2
            )
        )
    print_table(results)
    if args.throughput_steps:
        cfg = ssl_config(args, "simclr", 0)
        ours, bare = throughput(cfg, load_ssl_data(cfg.data), args.throughput_steps)
        print(f"\nthroughput (simclr, {args.throughput_steps} batches of {args.batch}): siamkit epoch "
              f"{ours:.0f} images/s, bare loop {bare:.0f} images/s ({ours / bare:.2f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
