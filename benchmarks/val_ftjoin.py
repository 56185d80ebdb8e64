"""Issue 17: keep the start's features beside the fine-tuned ones, on validation CLASSES only.

Issue 17's unmet target: fine-tuned from the SSL model with 10 labels per training class, the
embedding beats the same recipe trained from scratch on those labels by >= 0.05 4-way 1-shot on
the test classes 6-9 (+0.039 now). The fourth, sixth, eighth and ninth rules of ``ssl_val.py``
changed the freezing, the rate, the length, the weights' mix (WiSE-FT) and the loss; all lost to
the shipped recipe. This prototype tries a lever none of them did: a **feature-level ensemble**
of the start and the fine-tuned network (not WiSE-FT's weight mix). An image is embedded as

    join_w(x) = normalise([w * normalise(start(x)) ; normalise(tuned(x))])

where ``start`` is a frozen copy of the network the fine-tune began from (taken just before the
first step and never stepped: after the fine-tune the script compares the start's weights with a
clone of the network's state taken at the same moment, and raises if they differ) and ``tuned``
is the fine-tuned network. From SSL, the start is the SSL model (head + taps, as shipped);
**from scratch, the start is the same network's random initialisation** (the seeded
``build_model`` the scratch fine-tune begins from), so both rows follow the same recipe, as the
target demands. The fine-tune itself is ``bench_ssl.finetune`` unchanged (Adam 5e-4, constant,
10 epochs of 1 step, batch-hard triplets with margin 0.2, nothing frozen), with 10 labels per
class of the fold's four training classes, all four in every batch (as ``ssl_val.py
--finetune``). The fine-tuned networks are the same for ``ref`` and both candidates: only the
embedding differs.

**Only images of classes 0-5 are trained on, embedded or scored here.** The SSL loader
(``load_ssl_data``) reads the test split and keeps only its class ids; the fine-tune's loader
(``load_run_data``, which would keep the test split's images of every class not trained on,
6-9 among them) is wrapped so that its test split is emptied before anything trains
(:func:`finetune_with_start`). The held-out images scored are a seeded sample of 4,000
train-split images of the fold's two classes (``ssl_val.held_out_images``).

Budget (stop 61's shrunk one, ``val_nnclr.py``'s; the 2 cores are shared by several
engineers): SimCLR as ``configs/simclr.yaml`` ships it, ``data.limit=6000`` training images a
fold, 6 epochs, seed 0, 1 torch thread; one process a fold, the three side by side.

The eleventh SSL rule (the first on fine-tuning since the ninth), written and committed before
any figure of this script (issue 17, 2026-12-07, stop 62; folds ``2,5;0,3;1,4``, seed 0):

* Reference ``ref``: the shipped fine-tune embedded as shipped (the fine-tuned network alone, no
  join), from SSL and from scratch, run by this script on the same folds and the same SSL models
  as the candidates.
* Candidates, fixed before any figure: ``join 1.0`` (w = 1: start and fine-tuned parts weigh
  the same) and ``join 0.5`` (w = 0.5: the fine-tuned part weighs twice the start's).
* Metrics on a fold, for a row pair X (X from ssl, X from scratch): the **gap** = X from SSL's
  2-way 1-shot minus X from scratch's (``val_2w1s``; a fold holds two classes, so 2-way is the
  most ways it allows), and X from SSL's verification EER (``val_eer``).
* A candidate **fails at the first fold**, read in the order {2,5}, {0,3}, {1,4}, where its gap
  is below ``ref``'s by more than 0.005 or its from-SSL EER is above ``ref``'s by more than
  0.005; the folds after it are not judged (their figures are printed and reported). The three
  folds run side by side (one process each) only to fit the time; the verdict
  (:func:`judge`) reads them in that order.
* A candidate **passes** if it fails no fold, its mean gap over the three folds is >= 0.011
  above ``ref``'s (the shortfall of the target: 0.05 - 0.039) and its mean from-SSL EER is not
  above ``ref``'s (a wider gap bought by a worse from-SSL embedding is no gain). Among both, the
  larger mean gap. P@1 and the spread are printed, not used to choose.
* If one passes, it is reported as a candidate for the next stop: nothing goes into src and the
  test classes 6-9 are not scored this stop. If none passes, nothing changes.

Outcome of the eleventh rule (2026-12-07, stop 62, 18:33-19:02 UTC, load 17 at the start, 7-9
after): ``join 1.0`` fails at {2,5} (from-SSL EER 0.1166 against ref's 0.1035; gap +0.0300 against
+0.0307); ``join 0.5`` passes {2,5} (EER 0.1081, gap +0.0301) and fails at {0,3} (gap +0.0176
against ref's +0.0270, EER 0.3605 against 0.3542). Nothing adopted; the test classes not run.
Every row: BENCHMARKS.md, "SSL fine-tuning: the start's features kept beside the fine-tuned
ones". Those runs' check of the frozen start compared it with a second frozen copy taken at the
same moment, so it could not fire (s62_rq1 finding 1; since stop 62's mender it compares with a
state clone instead). The figures were not re-run: the start was a ``copy.deepcopy`` with its own
tensors, and a test compares the scratch start with a freshly seeded init after the fine-tune.

Run (three processes side by side, ``uptime`` before and after; then the verdict)::

    OMP_NUM_THREADS=1 nice python benchmarks/val_ftjoin.py ft --folds 2,5 --json ft25.jsonl
    OMP_NUM_THREADS=1 nice python benchmarks/val_ftjoin.py ft --folds 0,3 --json ft03.jsonl
    OMP_NUM_THREADS=1 nice python benchmarks/val_ftjoin.py ft --folds 1,4 --json ft14.jsonl
    python benchmarks/val_ftjoin.py ft --judge ft25.jsonl ft03.jsonl ft14.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_ssl  # noqa: E402
from siamkit import save_model  # noqa: E402
from siamkit.applications.ssl.methods import embedding_network  # noqa: E402
from siamkit.applications.ssl.task import build_ssl_model  # noqa: E402
from siamkit.applications.ssl.trainer import build_ssl_trainer  # noqa: E402
from siamkit.encode import encode  # noqa: E402
from siamkit.training.trainer import seed_everything  # noqa: E402
from ssl_val import (  # noqa: E402
    fold_training_classes,
    held_out_images,
    shrunk_fold_config,
    ssl_fold_data,
    without_test_images,
)
from val_folds import fold_arguments, fold_result, run_folds, score  # noqa: E402

WEIGHTS = (1.0, 0.5)  # the candidates' w, fixed by the rule before any figure
RULE_FOLDS = ([2, 5], [0, 3], [1, 4])  # the order the verdict reads the folds in
WORSE_BY = 0.005  # a fold fails: gap below ref's, or from-SSL EER above ref's, by more than this
GAP_LEAD = 0.011  # a pass needs a mean gap this far above ref's (the target's shortfall)


def join(z_start: Tensor, z_tuned: Tensor, w: float) -> Tensor:
    """``normalise([w * normalise(z_start) ; normalise(z_tuned)])``, row by row."""
    parts = [w * F.normalize(z_start.float(), dim=1), F.normalize(z_tuned.float(), dim=1)]
    return F.normalize(torch.cat(parts, dim=1), dim=1)


def frozen_copy(net: nn.Module) -> nn.Module:
    """A copy of ``net`` that no optimiser steps: its own tensors, no gradients, eval mode."""
    out = copy.deepcopy(net)
    out.requires_grad_(False)
    return out.eval()


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    """Whether every tensor of ``a``'s state (weights and buffers) equals ``b``'s."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def state_snapshot(net: nn.Module) -> dict[str, Tensor]:
    """A detached clone of every tensor of ``net``'s state, taken without :func:`frozen_copy`
    (so a broken copy cannot break the check that uses it)."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def holds_state(net: nn.Module, snapshot: dict[str, Tensor]) -> bool:
    """Whether ``net``'s state (weights and buffers) equals ``snapshot``, tensor by tensor."""
    state = net.state_dict()
    return state.keys() == snapshot.keys() and all(
        torch.equal(state[k], snapshot[k]) for k in state
    )


@contextmanager
def capturing_starts() -> Iterator[list[tuple[nn.Module, dict[str, Tensor]]]]:
    """Within it, ``bench_ssl.finetune`` loads its data with the test split emptied
    (``ssl_val.without_test_images``), and each
    network it trains is recorded just before training: ``(frozen start, snapshot)``. The
    snapshot is a clone of the live network's state (:func:`state_snapshot`, not a second
    :func:`frozen_copy`, which would move with the start if the copy shared the live tensors):
    it checks afterwards that the start was never stepped."""
    real_trainer = bench_ssl.Trainer
    starts: list[tuple[nn.Module, dict[str, Tensor]]] = []

    class Capture:
        @staticmethod
        def from_config(net: nn.Module, *a: Any, **k: Any) -> Any:
            starts.append((frozen_copy(net), state_snapshot(net)))
            return real_trainer.from_config(net, *a, **k)

    with without_test_images(), mock.patch.object(bench_ssl, "Trainer", Capture):
        yield starts


def finetune_with_start(
    seed: int, source: Path | None, shape: nn.Module, extra: Sequence[str]
) -> tuple[nn.Module, nn.Module]:
    """``(frozen start, fine-tuned network)`` of ``bench_ssl.finetune``'s recipe (10 epochs)."""
    with capturing_starts() as starts:
        tuned = bench_ssl.finetune(argparse.Namespace(ft_epochs=10), seed, source, shape, extra)
    if len(starts) != 1:
        raise RuntimeError(f"expected one fine-tune, saw {len(starts)}")
    start, snapshot = starts[0]
    if not holds_state(start, snapshot):
        raise RuntimeError("the frozen start changed while the fine-tune stepped")
    if same_weights(start, tuned):
        raise RuntimeError("the fine-tune left the network unchanged")
    return start, tuned.eval()


def ssl_model(args: argparse.Namespace, fold: list[int]) -> tuple[nn.Module, int]:
    """The fold's SimCLR under the shrunk budget: its embedding network (head + taps), seconds."""
    train_classes = fold_training_classes(fold)
    cfg = shrunk_fold_config(args, fold)
    data = ssl_fold_data(cfg, fold)  # reads the test split, keeps only its class ids
    seed_everything(cfg.train.seed)
    model = build_ssl_model(cfg, data)
    log = lambda line: print(f"   ssl {train_classes} {line}", flush=True)  # noqa: E731
    trainer, _ = build_ssl_trainer(model, cfg, data, progress=False, log=log)
    t0 = time.time()
    trainer.fit()
    return embedding_network(model.net, "head").cpu().eval(), round(time.time() - t0)


def finetune_fold_sets(train_classes: Sequence[int]) -> list[str]:
    """The fine-tune's overrides on a fold training ``train_classes``: the fold's classes, all of
    them in every batch (stop 62's ``ref``; ``val_ftaug.py``'s rows add their recipe after)."""
    classes = list(train_classes)
    return [f"data.train_classes={classes}", f"train.classes_per_batch={len(classes)}"]


def run_fold(args: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
    train_classes = fold_training_classes(fold)
    vx, vy = held_out_images(fold, args.val_images)  # train split, the fold's classes only
    t0 = time.time()
    ssl_net, ssl_seconds = ssl_model(args, fold)
    rows = {"raw-pixels": score(F.normalize(vx.flatten(1).float() / 255.0, dim=1), vy)}
    rows["ssl start"] = score(encode(ssl_net, vx, device="cpu"), vy)
    extra = finetune_fold_sets(train_classes)
    with tempfile.TemporaryDirectory() as tmp:
        src = save_model(ssl_net, Path(tmp) / "model")
        for start_name, source in (("ssl", src), ("scratch", None)):
            start, tuned = finetune_with_start(args.seed, source, ssl_net, extra)
            if start_name == "ssl" and not same_weights(start, ssl_net):
                raise RuntimeError("the from-SSL start does not hold the SSL model's weights")
            z_start = encode(start, vx, device="cpu")
            z_tuned = encode(tuned, vx, device="cpu")
            rows[f"ref from {start_name}"] = score(z_tuned, vy)
            for w in WEIGHTS:
                rows[f"join {w} from {start_name}"] = score(join(z_start, z_tuned, w), vy)
            for name in [f"ref from {start_name}", *(f"join {w} from {start_name}" for w in WEIGHTS)]:  # fmt: skip
                print(f"   {fold} {name}: {rows[name]}", flush=True)
    out = fold_result(fold, time.time() - t0, rows, [])
    out["ssl_seconds"] = ssl_seconds
    return out


def fold_figures(rows: dict[str, dict[str, float]], x: str) -> tuple[float, float]:
    """``(gap, from-SSL EER)`` of the row pair ``x`` (``ref``, ``join 1.0``, ``join 0.5``)."""
    ssl, scratch = rows[f"{x} from ssl"], rows[f"{x} from scratch"]
    return ssl["val_2w1s"] - scratch["val_2w1s"], ssl["val_eer"]


def fold_fails(cand: tuple[float, float], ref: tuple[float, float]) -> bool:
    """The rule's fold condition on ``(gap, from-SSL EER)`` pairs."""
    return cand[0] < ref[0] - WORSE_BY - 1e-12 or cand[1] > ref[1] + WORSE_BY + 1e-12


def judge(folds: Sequence[dict[str, dict[str, float]]], name: str) -> tuple[str, list[str]]:
    """The rule's verdict on candidate ``name`` over the folds' rows, in the rule's order: its
    outcome and one line per fold judged (it stops at the first failing fold)."""
    lines, cand, ref = [], [], []
    for i, rows in enumerate(folds):
        c, r = fold_figures(rows, name), fold_figures(rows, "ref")
        bad = fold_fails(c, r)
        lines.append(
            f"{name} | fold {i + 1} | gap {c[0]:+.4f} vs ref {r[0]:+.4f}, from-SSL EER "
            f"{c[1]:.4f} vs ref {r[1]:.4f}: {'fails' if bad else 'within the fold condition'}"
        )
        if bad:
            return f"fails at fold {i + 1}", lines
        cand.append(c)
        ref.append(r)
    if len(folds) < len(RULE_FOLDS):
        return f"no verdict: {len(folds)} of {len(RULE_FOLDS)} folds", lines
    gap_c, gap_r = (sum(g for g, _ in v) / len(v) for v in (cand, ref))
    eer_c, eer_r = (sum(e for _, e in v) / len(v) for v in (cand, ref))
    summary = f"mean gap {gap_c:+.4f} vs ref {gap_r:+.4f}, mean from-SSL EER {eer_c:.4f} vs ref {eer_r:.4f}"  # fmt: skip
    ok = gap_c >= gap_r + GAP_LEAD - 1e-12 and eer_c <= eer_r + 1e-12
    return ("passes: " if ok else "does not pass: ") + summary, lines


def in_rule_order(
    by_fold: dict[str, dict[str, dict[str, float]]],
) -> list[dict[str, dict[str, float]]]:
    """The rows of the rule's folds (``by_fold``: ``str(fold)`` -> rows), in the rule's order;
    stops at the first fold missing."""
    out = []
    for fold in RULE_FOLDS:
        if str(fold) not in by_fold:
            break
        out.append(by_fold[str(fold)])
    return out


def folds_from_json(paths: Sequence[str]) -> list[dict[str, dict[str, float]]]:
    """The rows of the rule's folds, in the rule's order, from JSON lines (stops at a missing one)."""
    found: dict[str, dict[str, dict[str, float]]] = {}
    for p in paths:
        for line in Path(p).read_text().splitlines():
            rec = json.loads(line)
            found[str(rec["fold"])] = rec["rows"]
    return in_rule_order(found)


def print_verdicts(folds: Sequence[dict[str, dict[str, float]]], names: Sequence[str]) -> None:
    """The rule's verdict on each candidate of ``names`` (:func:`judge`): its fold lines, then
    its outcome."""
    for name in names:
        outcome, lines = judge(folds, name)
        for line in lines:
            print(line)
        print(f"{name}: {outcome}")


def rule_main(
    doc: str,
    run_fold: Callable[[argparse.Namespace, list[int]], dict[str, Any]],
    names: Sequence[str],
) -> None:
    """The command line of a script judged by this rule (this one's, ``val_ftaug.py``'s): run
    ``run_fold`` on each fold of ``--folds`` (or, with ``--judge``, read their rows from JSON
    lines), then print the verdict on each candidate of ``names`` over the rule's folds run."""
    ap = fold_arguments(doc.splitlines()[0], "configs/simclr.yaml", "2,5;0,3;1,4")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=6000, help="SSL training images a fold")
    ap.add_argument("--judge", nargs="+", metavar="JSONL", help="only print the rule's verdict")
    args = ap.parse_args()
    if args.sets:
        ap.error("--set is not used here: the rule fixes the recipe")
    if args.judge:
        print_verdicts(folds_from_json(args.judge), names)
        return
    outs: list[dict[str, Any]] = []

    def run_and_keep(a: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
        outs.append(run_fold(a, fold))
        return outs[-1]

    run_folds(ap, args, run_and_keep)
    ordered = in_rule_order({str(o["fold"]): o["rows"] for o in outs})
    if ordered:
        print_verdicts(ordered, names)


def main() -> None:
    rule_main(__doc__, run_fold, [f"join {w}" for w in WEIGHTS])


if __name__ == "__main__":
    main()
