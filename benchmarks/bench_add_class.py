"""Add a class, then train on: new classes need no retraining, and training on with them keeps
the old classes' quality (issue 19, article 002).

Fashion-MNIST, one seed, small budget (about 5 minutes on 2 shared CPU cores):

A. train on classes 0-3 (``--epochs-a`` epochs, ``--per-class`` images each), the run's own
   per-image validation split for its model selection;
B. enroll classes 4 and 5 from ONE example each into a gallery of 1 example per class, no
   retraining: 1-shot identification among the 6 classes;
C. ``--init-from`` A's model (``model.init_from``) and train on 0-5 (``--epochs-c`` epochs);
E. as C with ``model.freeze_encoder_epochs: 1`` (only the head trains in the first epoch);
D. the peer: the same training on 0-5 from scratch (same epochs as C), i.e. what you would do
   without ``--init-from``.

Each of ``--seeds`` seeds trains every model anew (the test episodes are the same for all);
the table shows the mean and, in brackets, the spread (max - min) over the seeds.

Every figure is measured on Fashion-MNIST's own TEST split of classes 0-5 (1000 images each),
which no choice here looked at: the recipe is the demo's (triplet, batch-hard, margin 0.2, Adam
1e-3) without the fixed HOG part, so that only learned features are measured, and the epochs are
fixed in advance. Metrics:

* old P@1: leave-one-out nearest neighbour among the test images of classes 0-3 (same class?);
* 1-shot: episodes of a gallery holding one random test image per class (0-3, or 0-5), the other
  test images of those classes as queries, nearest enrolled image's class; mean accuracy over
  ``--episodes`` episodes, reported per group (old = 0-3, new = 4-5). One episode is checked
  against :class:`siamkit.index.Gallery` (enroll_embeddings + identify_embeddings): the same
  answers.

    nice -n 10 python benchmarks/bench_add_class.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

from siamkit import save_model
from siamkit.data import load_fashion_mnist
from siamkit.encode import encode
from siamkit.index import Gallery
from siamkit.training import Trainer, build_model, config_from_dict, load_run_data
from siamkit.training.init_from import init_from_model
from siamkit.training.trainer import seed_everything

OLD, NEW = (0, 1, 2, 3), (4, 5)


def recipe(
    classes: tuple[int, ...], epochs: int, per_class: int, seed: int, freeze: int = 0
) -> Any:
    return config_from_dict(
        {
            "data": {
                "dataset": "fashion-mnist",
                "train_classes": list(classes),
                "val_fraction": 0.1,
                "labels_per_class": per_class,
            },
            "model": {
                "encoder": "convnet",
                "encoder_kwargs": {"widths": [16, 32, 64]},
                "embedding_dim": 32,
                "distance": "euclidean",
                "input_mean": [0.286],
                "input_std": [0.353],
                "freeze_encoder_epochs": freeze,
            },
            "loss": {"kind": "triplet", "mining": "batch_hard", "margin": 0.2},
            "optim": {"optimizer": "adam", "lr": 0.001, "schedule": "constant"},
            "train": {
                "epochs": epochs,
                "classes_per_batch": len(classes),
                "samples_per_class": 32,
                "seed": seed,
                "val_metric": "precision_at_1",
            },
        }
    )


def train(cfg: Any, init_from: Path | None) -> tuple[torch.nn.Module, float]:
    t = time.perf_counter()
    data = load_run_data(cfg.data)
    seed_everything(cfg.train.seed)
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    if init_from is not None:
        init_from_model(net, init_from)
    Trainer.from_config(net, cfg, data, progress=False, log=lambda _m: None).fit()
    return net.eval(), time.perf_counter() - t


def old_p_at_1(z: torch.Tensor, y: torch.Tensor) -> float:
    """Leave-one-out nearest neighbour among the old classes' test images."""
    keep = torch.isin(y, torch.tensor(OLD))
    zo, yo = z[keep], y[keep]
    d = torch.cdist(zo, zo)
    d.fill_diagonal_(float("inf"))
    return float((yo[d.argmin(1)] == yo).float().mean())


def one_shot(
    z: torch.Tensor, y: torch.Tensor, classes: tuple[int, ...], episodes: int, seed: int
) -> dict[int, float]:
    """Per-class 1-shot identification accuracy with a gallery of one image per class."""
    rng = np.random.default_rng(seed)
    yn = y.numpy()
    pools = {c: np.flatnonzero(yn == c) for c in classes}
    correct = {c: 0 for c in classes}
    total = {c: 0 for c in classes}
    for _ in range(episodes):
        shots = np.array([rng.choice(pools[c]) for c in classes])
        queries = np.setdiff1d(np.concatenate([pools[c] for c in classes]), shots)
        pred = np.asarray(classes)[torch.cdist(z[queries], z[shots]).argmin(1).numpy()]
        for c in classes:
            m = yn[queries] == c
            correct[c] += int((pred[m] == c).sum())
            total[c] += int(m.sum())
    return {c: correct[c] / total[c] for c in classes}


def check_with_gallery(z: torch.Tensor, y: torch.Tensor, folder: Path, seed: int) -> None:
    """One 6-way episode through siamkit's Gallery gives the same answers as the cdist above."""
    rng = np.random.default_rng(seed)
    yn = y.numpy()
    classes = OLD + NEW
    shots = np.array([rng.choice(np.flatnonzero(yn == c)) for c in classes])
    queries = np.setdiff1d(np.flatnonzero(np.isin(yn, classes)), shots)[:500]
    opened = Gallery.open(
        folder / "g.db", embedding_dim=z.shape[1], distance="euclidean", threshold=1e9
    )
    with opened as g:  # threshold: accept every match, only the nearest label matters here
        for c, i in zip(classes, shots):
            g.enroll_embeddings(str(c), z[i : i + 1].numpy())
        got = [int(r.matches[0].label) for r in g.identify_embeddings(z[queries].numpy(), k=1)]
    want = np.asarray(classes)[torch.cdist(z[queries], z[shots]).argmin(1).numpy()]
    assert got == want.tolist(), "the gallery and the brute-force 1-shot disagree"


def measure(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, episodes: int, seed: int):
    z = encode(net, x, batch_size=512)
    four = one_shot(z, y, OLD, episodes, seed)
    six = one_shot(z, y, OLD + NEW, episodes, seed)
    return {
        "old P@1": old_p_at_1(z, y),
        "old 1-shot (4-way)": float(np.mean([four[c] for c in OLD])),
        "old 1-shot (6-way)": float(np.mean([six[c] for c in OLD])),
        "new 1-shot (6-way)": float(np.mean([six[c] for c in NEW])),
    }, z


def one_seed(args: argparse.Namespace, seed: int, x: torch.Tensor, y: torch.Tensor):
    rows: dict[str, tuple[dict[str, float], float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net_a, sec_a = train(recipe(OLD, args.epochs_a, args.per_class, seed), None)
        a_path = save_model(net_a, folder / "a")
        m_a, z_a = measure(net_a, x, y, args.episodes, args.seed)
        check_with_gallery(z_a, y, folder, seed)
        rows[ROWS[0]] = (m_a, sec_a)
        runs = [
            (ROWS[1], recipe(OLD + NEW, args.epochs_c, args.per_class, seed), a_path),
            (ROWS[2], recipe(OLD + NEW, args.epochs_c, args.per_class, seed, freeze=1), a_path),
            (ROWS[3], recipe(OLD + NEW, args.epochs_c, args.per_class, seed), None),
        ]
        for name, cfg, init in runs:
            net, sec = train(cfg, init)
            rows[name] = (measure(net, x, y, args.episodes, args.seed)[0], sec)
    return rows


ROWS = (
    "A: trained on 0-3; 4, 5 enrolled from 1 example (no retraining)",
    "C: --init-from A, trained on 0-5",
    "E: --init-from A, encoder frozen for epoch 1, trained on 0-5",
    "D (peer): from scratch on 0-5, same epochs as C",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--per-class", type=int, default=1500)
    p.add_argument("--epochs-a", type=int, default=4)
    p.add_argument("--epochs-c", type=int, default=3)
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0, help="of the test episodes")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  load: {os.getloadavg()}")
    x, y = load_fashion_mnist("test")
    if x.dim() == 3:
        x = x[:, None]  # (N, 1, 28, 28)
    keep = torch.isin(y, torch.tensor(OLD + NEW))
    x, y = x[keep], y[keep]
    per_seed = [one_seed(args, s, x, y) for s in range(args.seeds)]
    keys = list(per_seed[0][ROWS[0]][0])

    def cell(values: list[float], sign: bool = False) -> str:
        spread = f" ({max(values) - min(values):.3f})" if len(values) > 1 else ""
        return f"{np.mean(values):{'+' if sign else ''}.3f}{spread}"

    print(f"| model | {' | '.join(keys)} | train s |")
    print(f"|---|{'---|' * len(keys)}---|")
    for name in ROWS:
        ms = [r[name][0] for r in per_seed]
        sec = np.mean([r[name][1] for r in per_seed])
        print(f"| {name} | {' | '.join(cell([m[k] for m in ms]) for k in keys)} | {sec:.0f} |")
    for label, a, b, fn in (
        ("C - A (delta)", ROWS[1], ROWS[0], lambda u, v: u - v),
        ("E - A (delta)", ROWS[2], ROWS[0], lambda u, v: u - v),
        ("C / D (ratio vs the peer)", ROWS[1], ROWS[3], lambda u, v: u / v),
    ):
        vals = [[fn(r[a][0][k], r[b][0][k]) for r in per_seed] for k in keys]
        print(f"| {label} | {' | '.join(cell(v, sign='delta' in label) for v in vals)} | |")


if __name__ == "__main__":
    main()
