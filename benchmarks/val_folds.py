"""Choose a learned recipe on validation CLASSES only: class folds inside Fashion-MNIST 0-5.

For each fold (two of the training classes 0-5 held out, e.g. ``2,5``), the recipe trains on the
other four classes and is scored on a seeded sample (``--val-images``, default 4,000) of the
train-split images of the two held-out ones: the
verification EER over a seeded sample of their pairs (the selection metric; it keeps ranking
after P@1 saturates on two classes), leave-one-out P@1, 2-way 1-shot, and the learned embedding's
spread (collapse check). The learned embedding only: the HOG features are off
(``model.appearance=null``). **Only images of classes 0-5 are trained on, embedded or scored
here**: the test split's images of the unseen test classes 6-9 are loaded with the run's data,
and the script drops them before training.

``--embed-taps`` also scores the same trained weights with multi-level taps added at embedding
time only (``ConvNet`` taps carry no weights, so a network trained without them loads into one
with them): JSON objects of ConvNet tap arguments, e.g. ``'{"taps": [0], "tap_grids": [4]}'``.

``--embed-backbone`` also scores the trained encoder's pooled features, L2-normalised, without
the head (the head then acts as a training-only projector, as in SSL: with ``model.head_hidden``
it is an MLP projector).

``--center N`` also scores every row centred (SimpleShot's CL2N, Wang et al. 2019): the mean
embedding of a seeded sample of N of the fold's TRAINING images (labels unused) is subtracted
before L2-normalising again. Nothing of the held-out classes enters the mean.

Round 6 of issue 20, the rule written before its run (2026-12-03, eighth stop): the reference R
is the taps recipe as the fourth stop ran it (``configs/hypercolumn.yaml``, 10 x 50 steps,
``train.val_metric=none``, folds ``2,5;0,3;1,4``, seed 0; mean EER 0.216). The one candidate is
R's saved embedding centred with ``--center 4000``. It passes only if its mean EER is ≥ 0.01
below R's and no fold is worse by > 0.005; since R's head collapses (the round-2 amendment makes
a collapsing recipe ineligible as the default), a pass is a finding for the centring step, not a
new default. The test classes are not run in this round.

Round 10 of issue 20, the rule written before its run (2026-12-05, twenty-fourth stop): closed-form
metrics fitted after training on the fold's TRAINING classes (labels used, held-out classes never),
applied to the taps recipe's joined embedding. ``--whiten N`` fits them on a seeded sample of N
(4,000) labelled training images of the fold and scores three rows beside the untransformed one:
``wccn 0.1`` and ``wccn 1`` (within-class covariance normalisation, Hatch et al. 2006: the
within-class scatter Sw scaled to mean eigenvalue 1, ``z -> normalise((Sw + a I)^-1/2 z)``), and
``kissme 64`` (Koestinger et al. 2012, "keep it simple and straightforward": PCA to 64 dims on the
training mean, then ``M = inv(Cov_same) - inv(Cov_diff)`` of 20,000 seeded same- and
different-class difference vectors, negative eigenvalues clipped, ``z -> normalise(M^1/2 P(z - mu))``).
Reference T = the same run's untransformed row (``configs/hypercolumn.yaml``, 10 x 50 steps,
``train.val_metric=none``, folds ``2,5;0,3;1,4``, seed 0). A candidate passes only if its mean EER
over the three folds is >= 0.01 below T's, no fold is worse than T's by > 0.005, and its spread on
no fold is below 0.05 (collapse). Among passing candidates the lowest mean EER is picked; only then
would it be built into siamkit and the test classes 6-9 scored, once, by bench_fmnist.py.

Round 10's result (same day, before round 11): nothing passed (mean EER T 0.186; wccn 0.1 0.294,
wccn 1 0.240, kissme 64 0.227); the test classes were not run.

Round 11 of issue 20, the rule written before its run (2026-12-05, twenty-fourth stop): more training
classes made from the training classes themselves. ``--class-aug rot4`` adds each training image
rotated by 90, 180 and 270 degrees as three new classes (class c at k quarter turns gets label
c + 100 k: the Omniglot practice of Santoro et al. 2016 and Vinyals et al. 2016, four times the
classes); ``--class-aug vflip2`` adds each training image flipped upside down as one new class
(twice the classes). Only the fold's training images are expanded; the held-out classes are scored
upright, as always. Same steps (10 x 50), batch shape and seed as T. Reference T = round 10's
untransformed rows (EER 0.056 / 0.333 / 0.167 on 2,5 / 0,3 / 1,4, mean 0.186, as round 7 ran it).
A candidate passes only if its mean EER is <= 0.176, no fold is worse than T's by > 0.005, and its
spread on no fold is below 0.05. Among passing candidates the lowest mean EER is picked; only then
would it become a siamkit data option and the test classes 6-9 be scored, once, by bench_fmnist.py.

Run:  nice python benchmarks/val_folds.py NAME --folds "2,5;0,3" --set loss.kind=... [--set ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamkit.applications.ssl.methods import embedding_network
from siamkit.clauses import counted
from siamkit.encode import encode
from siamkit.encoders import create_encoder, encoder_spec
from siamkit.evaluation.few_shot import few_shot_episodes
from siamkit.evaluation.retrieval import precision_at_1
from siamkit.models import SiameseNetwork
from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data
from siamkit.training.trainer import seed_everything
from siamkit.training.validation import embedding_spread, validation_eer

TRAINING_CLASSES = (0, 1, 2, 3, 4, 5)  # the main split's training classes; 6-9 are test classes


def score(z: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Validation-class figures of embeddings ``z`` with labels ``y`` (Euclidean distance)."""
    return {
        "val_eer": validation_eer(z, y, "euclidean"),  # type: ignore[arg-type]
        "val_p1": precision_at_1(z, y),
        "val_2w1s": few_shot_episodes(z, y, 2, 1, n_query=15, episodes=1000, seed=0).accuracy,
        "spread": embedding_spread(z),
    }


def with_taps(net: SiameseNetwork, taps: dict[str, Any]) -> SiameseNetwork:
    """The same trained weights in a network whose ConvNet also emits ``taps``."""
    spec = encoder_spec(net.encoder)
    enc = create_encoder(spec["name"], **{**spec["kwargs"], **taps})
    out = SiameseNetwork(
        enc, net.head.embedding_dim, head_hidden=net.head.hidden, preprocess=net.preprocess
    )
    out.load_state_dict(net.state_dict())
    return out.eval()


def centre_sample(train_x: torch.Tensor, n: int) -> torch.Tensor | None:
    """A seeded sample of ``n`` training images for ``--center`` (``None`` when off)."""
    if n <= 0:
        return None
    if len(train_x) > n:
        keep = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(1))[:n]
        train_x = train_x[keep.sort().values]
    return train_x


def centred(z: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``z`` minus the mean of ``ref`` (embeddings of training images), L2-normalised again."""
    return torch.nn.functional.normalize(z - ref.mean(dim=0), dim=1)


def fit_metrics(
    z: torch.Tensor, y: torch.Tensor
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Round 10's closed-form metrics fitted on training embeddings ``z`` with labels ``y``: each
    maps embeddings to L2-normalised transformed embeddings (see the module docstring)."""
    z, d = z.double(), z.shape[1]
    within = torch.zeros(d, d, dtype=torch.float64)
    for c in y.unique():
        zc = z[y == c] - z[y == c].mean(dim=0)
        within += zc.T @ zc
    within /= len(z)
    within /= torch.trace(within) / d  # mean eigenvalue 1, so the shrinkage a is scale-free
    evals, evecs = torch.linalg.eigh(within)
    out: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    for a in (0.1, 1.0):
        w = evecs @ torch.diag((evals.clamp_min(0) + a).rsqrt()) @ evecs.T
        out[f"wccn {a:g}"] = lambda q, w=w: torch.nn.functional.normalize(
            q.double() @ w, dim=1
        ).float()
    mu = z.mean(dim=0)
    _, _, vt = torch.linalg.svd(z - mu, full_matrices=False)
    p = vt[:64].T  # (d, 64)
    zp = (z - mu) @ p
    g = torch.Generator().manual_seed(0)
    i, j = (
        torch.randint(len(z), (200_000,), generator=g),
        torch.randint(len(z), (200_000,), generator=g),
    )
    same, diff = (y[i] == y[j]) & (i != j), y[i] != y[j]
    ds = (zp[i[same]] - zp[j[same]])[:20_000]
    dd = (zp[i[diff]] - zp[j[diff]])[:20_000]
    m = torch.linalg.inv(ds.T @ ds / len(ds)) - torch.linalg.inv(dd.T @ dd / len(dd))
    ev, evec = torch.linalg.eigh((m + m.T) / 2)
    half = evec @ torch.diag(ev.clamp_min(0).sqrt()) @ evec.T
    out["kissme 64"] = lambda q: torch.nn.functional.normalize(
        ((q.double() - mu) @ p) @ half, dim=1
    ).float()
    return out


def labelled_sample(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded sample of ``n`` labelled training images for ``--whiten``."""
    keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(1))[:n].sort().values
    return x[keep], y[keep]


def embedding_rows(
    args: argparse.Namespace,
    net: SiameseNetwork,
    x: torch.Tensor,
    y: torch.Tensor,
    centre_x: torch.Tensor | None = None,
    fit_xy: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, dict[str, float]]:
    """``score`` of the trained network's embedding of the held-out images ``x``, and as
    ``--embed-taps`` and ``--embed-backbone`` ask (the pooled features: what ``task: ssl``
    saves with ``ssl.embed: backbone``); each also centred on ``centre_x``'s mean embedding
    when given (``--center``)."""
    net.eval()
    nets = {args.name: net}
    for spec in args.embed_taps:
        taps = json.loads(spec)
        nets[f"{args.name} +embed-taps {json.dumps(taps, separators=(',', ':'))}"] = with_taps(
            net, taps
        )
    if args.embed_backbone:
        nets[f"{args.name} backbone"] = embedding_network(net, "backbone")
    rows = {}
    for name, m in nets.items():
        z = encode(m, x, device="cpu")
        rows[name] = score(z, y)
        if args.embed_flip:  # the mean of the image's and its mirror image's embeddings
            zf = torch.nn.functional.normalize(z + encode(m, x.flip(-1), device="cpu"), dim=1)
            rows[f"{name} +flip"] = score(zf, y)
        if centre_x is not None:
            rows[f"{name} centred"] = score(centred(z, encode(m, centre_x, device="cpu")), y)
        if fit_xy is not None:  # round 10: metrics fitted on the fold's training classes only
            metrics = fit_metrics(encode(m, fit_xy[0], device="cpu"), fit_xy[1])
            for mname, transform in metrics.items():
                rows[f"{name} {mname}"] = score(transform(z), y)
    return rows


def fold_result(
    fold: list[int], seconds: float, rows: dict[str, Any], history: list[dict[str, Any]]
) -> dict[str, Any]:
    """One fold's JSON line (history figures rounded to 4 places)."""
    history = [
        {k: round(v, 4) if isinstance(v, float) else v for k, v in h.items()} for h in history
    ]
    return {"fold": fold, "seconds": round(seconds), "rows": rows, "history": history}


def fold_data(args: argparse.Namespace, fold: list[int], seed: int) -> tuple[Any, Any]:
    """The config and data of one fold (test classes dropped, validation images sampled)."""
    sets = [
        f"data.train_classes={list(TRAINING_CLASSES)}",
        f"data.val_classes={fold}",
        "model.appearance=null",
        "train.classes_per_batch=4",
        "train.samples_per_class=48",
        "train.device=cpu",
        "train.threads=1",
        "train.val_metric=eer",
        f"train.seed={seed}",
        *args.sets,
    ]
    cfg = apply_overrides(load_config(args.config), sets)
    data = load_run_data(cfg.data)
    if set(data.val_classes) != set(fold) or set(data.train_classes) - set(TRAINING_CLASSES):
        raise SystemExit(f"fold {fold}: validation classes came out as {data.val_classes}")
    # the test classes are not this script's business: drop them before anything trains
    data = data._replace(test_x=data.test_x[:0], test_y=data.test_y[:0])
    if args.val_images and len(data.val_y) > args.val_images:  # a seeded sample, the same each run
        keep = torch.randperm(len(data.val_y), generator=torch.Generator().manual_seed(0))
        keep = keep[: args.val_images].sort().values
        data = data._replace(val_x=data.val_x[keep], val_y=data.val_y[keep])
    return cfg, data


def expand_classes(data: Any, how: str) -> Any:
    """Round 11: the training split with rotated (``rot4``) or upside-down (``vflip2``) copies of
    every training image as new classes (label ``c + 100 k``); validation and test untouched."""
    x, y = data.train_x, data.train_y
    if how == "rot4":
        copies = [x.rot90(k, dims=(-2, -1)) for k in range(4)]
    elif how == "vflip2":
        copies = [x, x.flip(-2)]
    else:
        raise SystemExit(f"--class-aug must be rot4 or vflip2, got {how!r}")
    ys = [y + 100 * k for k in range(len(copies))]
    return data._replace(train_x=torch.cat(copies), train_y=torch.cat(ys))


def train_fold(
    args: argparse.Namespace, fold: list[int], seed: int
) -> tuple[SiameseNetwork, Any, list[dict[str, Any]]]:
    """One network trained on the fold's four training classes with ``seed``."""
    cfg, data = fold_data(args, fold, seed)
    if getattr(args, "class_aug", None):
        data = expand_classes(data, args.class_aug)
    seed_everything(cfg.train.seed)
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    log = lambda line: print(f"   {fold} seed {seed} {line}", flush=True)  # noqa: E731
    result = Trainer.from_config(net, cfg, data, progress=False, log=log).fit()
    assert isinstance(net, SiameseNetwork)  # model.appearance is off: the network alone
    return net, data, result.history


def run_fold(args: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
    t0 = time.time()
    net, data, history = train_fold(args, fold, args.seed)
    fit_xy = labelled_sample(data.train_x, data.train_y, args.whiten) if args.whiten else None
    rows = embedding_rows(
        args, net, data.val_x, data.val_y, centre_sample(data.train_x, args.center), fit_xy
    )
    if args.ensemble > 1:  # members with seeds seed+1, ...: their embeddings joined
        zs = [encode(net.eval(), data.val_x, device="cpu")]
        for i in range(1, args.ensemble):
            member, _, _ = train_fold(args, fold, args.seed + i)
            zs.append(encode(member.eval(), data.val_x, device="cpu"))
            rows[f"{args.name} seed {args.seed + i}"] = score(zs[-1], data.val_y)
            joined = torch.nn.functional.normalize(torch.cat(zs, dim=1), dim=1)
            rows[f"{args.name} ensemble of {i + 1}"] = score(joined, data.val_y)
    return fold_result(fold, time.time() - t0, rows, history)


def fold_arguments(description: str, config: str, folds: str) -> argparse.ArgumentParser:
    """The options every fold script shares (``ssl_val.py`` adds its own)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("name")
    ap.add_argument("--config", default=config)
    ap.add_argument("--folds", default=folds, help="';'-separated held-out class pairs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--val-images", type=int, default=4000, help="score a seeded sample of this many (0 = all)"
    )
    ap.add_argument("--set", action="append", default=[], dest="sets")
    ap.add_argument("--embed-taps", action="append", default=[])
    ap.add_argument(
        "--embed-backbone", action="store_true", help="also score the head-less features"
    )
    ap.add_argument(
        "--embed-flip", action="store_true",
        help="also score every row flip-averaged: normalise(z(x) + z(mirrored x))",
    )  # fmt: skip
    ap.add_argument(
        "--center", type=int, default=0, metavar="N",
        help="also score every row centred on the mean embedding of N training images (0 = off)",
    )  # fmt: skip
    ap.add_argument(
        "--whiten", type=int, default=0, metavar="N",
        help="also score round 10's metrics fitted on N labelled training images (0 = off)",
    )  # fmt: skip
    ap.add_argument(
        "--class-aug", choices=["rot4", "vflip2"],
        help="round 11: train with rotated or upside-down copies as new classes",
    )  # fmt: skip
    ap.add_argument("--json", help="append one JSON line per fold here")
    return ap


def run_folds(
    ap: argparse.ArgumentParser,
    args: argparse.Namespace,
    run_fold: Callable[[argparse.Namespace, list[int]], dict[str, Any]],
) -> None:
    """Check ``--folds``, run each, print its rows and append them to ``--json``; after the last
    fold, print each row's mean over the folds run (:func:`mean_rows`)."""
    folds = [[int(c) for c in f.split(",")] for f in args.folds.split(";")]
    for fold in folds:
        if not set(fold) < set(TRAINING_CLASSES):
            ap.error(f"fold {fold} must be training classes among {TRAINING_CLASSES}")
    outs = []
    for fold in folds:
        out = run_fold(args, fold)
        outs.append(out)
        report_fold(args, fold, out)
    ran = " ".join(str(out["fold"]).replace(" ", "") for out in outs)
    for name, row in mean_rows([out["rows"] for out in outs]).items():
        figures = ", ".join(f"{k} {v:.4f}" for k, v in row.items())
        print(f"{name} | mean over {counted(len(outs), 'fold')} {ran} | {figures}", flush=True)


def report_fold(
    args: argparse.Namespace, fold: list[int], out: dict[str, Any], failed: bool = False
) -> None:
    """Print a fold's rows and its per-epoch ``history``, and append them to ``--json`` as one
    line (with ``"failed": true`` for a fold that fails a round's rule: such a fold's figures
    were printed but not written, the script ending there: :func:`stop_at_failing_fold`)."""
    for name, row in out["rows"].items():
        figures = ", ".join(f"{k} {v:.4f}" for k, v in row.items())
        print(f"{name} | fold {fold} | {figures} | {out['seconds']} s", flush=True)
    print("   history", json.dumps(out["history"]), flush=True)
    if args.json:
        line = {"name": args.name, "sets": args.sets, "fold": fold, **out}
        if failed:
            line["failed"] = True
        with open(args.json, "a") as fh:
            fh.write(json.dumps(line) + "\n")


def mean_rows(fold_rows: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each row's figures averaged over the folds (``fold_rows``: each fold's rows); only the rows
    and figures every fold has (a row or figure missing from one fold gets no mean)."""
    if not fold_rows:
        return {}
    means = {}
    for name, row in fold_rows[0].items():
        if all(name in rows for rows in fold_rows):
            keys = [k for k in row if all(k in rows[name] for rows in fold_rows)]
            means[name] = {
                k: sum(rows[name][k] for rows in fold_rows) / len(fold_rows) for k in keys
            }
    return means


#: Rounds 12 to 18's rule: the taps recipe T's EER on each fold (round 7) + 0.005
T_FOLD_LIMITS = {(2, 5): 0.061, (0, 3): 0.338, (1, 4): 0.172}


def stop_at_failing_fold(
    run_fold: Callable[[argparse.Namespace, list[int]], dict[str, Any]],
    limits: dict[tuple[int, int], float],
    min_spread: float | None = 0.05,
) -> Callable[[argparse.Namespace, list[int]], dict[str, Any]]:
    """``run_fold`` under a round's rule: a fold whose EER (of the candidate ``args.name``) is
    above its limit, or whose spread is below ``min_spread`` (``None``: no spread rule, as in
    round 9), prints its rows, its per-epoch ``history`` line and appends them to ``--json``
    marked failed (as :func:`run_folds` does a passing fold's: :func:`report_fold`), says that
    it fails, and ends the script, so that a candidate stops at its first failing fold (rounds 9
    and 12 to 18)."""

    def ruled(args: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
        out = run_fold(args, fold)
        row = out["rows"][args.name]
        eer = row["val_eer"]
        limit = limits.get((fold[0], fold[1]))
        thin = min_spread is not None and row["spread"] < min_spread
        if (limit is not None and eer > limit) or thin:
            report_fold(args, fold, out, failed=True)  # its per-epoch spread too
            spread = "" if min_spread is None else f", spread {row['spread']:.4f}"
            print(
                f"{args.name} | fold {fold} | EER {eer:.4f} (limit {limit}){spread}: fails the rule",
                flush=True,
            )
            raise SystemExit(0)
        return out

    return ruled


def main() -> None:
    ap = fold_arguments(__doc__.splitlines()[0], "configs/demo.yaml", "2,5;0,3")
    ap.add_argument(
        "--ensemble", type=int, default=1, metavar="N",
        help="also train N-1 more networks (seeds seed+1, ...) and score their joined embeddings",
    )  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(1)
    run_folds(ap, args, run_fold)


if __name__ == "__main__":
    main()
