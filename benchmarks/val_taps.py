"""What the issue 20 scripts that train a candidate on top of the taps recipe share
(``val_joint_ssl.py``, round 9; ``val_distill.py``, round 12; ``val_rho.py``, round 13;
``val_mixup.py``, round 14; ``val_sam.py``, round 15; ``val_proto.py``, round 16;
``val_proto_aux.py``, round 17; ``val_resolution.py``, round 18): the recipe's config and
folds, the command every round ran, and a fold's start and end around the candidate's own
change to the trainer (or, with ``start_fold``'s ``prepare``, to the network before the trainer
is built). Each script keeps its rule and its change; the folds and the scoring are
``val_folds.py``'s.

Run (each script, with its own option; ``--help`` prints it):
    OMP_NUM_THREADS=1 nice python benchmarks/SCRIPT NAME --config configs/hypercolumn.yaml \\
        --folds "2,5;0,3;1,4" --set train.epochs=10 --set train.steps_per_epoch=50 \\
        --set train.val_metric=none OPTION VALUE
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from siamkit.models import SiameseNetwork
from siamkit.training import Trainer, build_model
from siamkit.training.trainer import seed_everything
from val_folds import (
    T_FOLD_LIMITS,
    embedding_rows,
    fold_arguments,
    fold_data,
    fold_result,
    run_folds,
    stop_at_failing_fold,
)

TAPS_CONFIG = "configs/hypercolumn.yaml"  # the taps recipe T
TAPS_FOLDS = "2,5;0,3;1,4"  # round 7's folds, T's EER on each in T_FOLD_LIMITS

#: The command each round ran (round 7's T: 10 x 50 steps, no validation during training).
RUN = (
    "OMP_NUM_THREADS=1 nice python benchmarks/{script} NAME --config "
    + TAPS_CONFIG
    + ' --folds "'
    + TAPS_FOLDS
    + '" --set train.epochs=10 --set train.steps_per_epoch=50 --set train.val_metric=none {option}'
)


def taps_arguments(doc: str, script: str, option: str) -> argparse.ArgumentParser:
    """``val_folds.fold_arguments`` with the taps recipe's config and folds, described by the
    script's docstring's first line; ``--help`` ends with the round's command (``option``: the
    script's own option and the value the round's docstring names)."""
    ap = fold_arguments(doc.splitlines()[0], TAPS_CONFIG, TAPS_FOLDS)
    ap.epilog = "Run:  " + RUN.format(script=script, option=option)
    return ap


@dataclass
class Fold:
    """A fold's trainer for the taps recipe, built as ``siamkit train`` builds it, before the
    candidate changes its forward or objective."""

    fold: list[int]
    cfg: Any
    data: Any
    net: SiameseNetwork
    trainer: Trainer
    log: Callable[[str], None]
    t0: float  # when the fold started (its data read), for its seconds

    def result(
        self,
        args: argparse.Namespace,
        history: Any,
        extra: Callable[[], dict[str, float]] | None = None,
    ) -> dict[str, Any]:
        """The fold's rows (``val_folds.embedding_rows`` of the trained network on the fold's
        validation images; the candidate's row with the figures ``extra()`` measures after
        them) and history."""
        rows = embedding_rows(args, self.net, self.data.val_x, self.data.val_y, None)
        if extra is not None:
            rows[args.name].update(extra())
        return fold_result(self.fold, time.time() - self.t0, rows, history)


def start_fold(
    args: argparse.Namespace,
    fold: list[int],
    log: Callable[[str], None] | None = None,
    prepare: Callable[[SiameseNetwork], None] | None = None,
) -> Fold:
    """The fold's data (training classes only), seeded network and trainer; ``log``: the
    trainer's lines, by default printed under the fold; ``prepare``: a change to the network
    made before the trainer is built (its optimiser, weight average and layout then see the
    changed network; round 18 wraps the encoder)."""
    t0 = time.time()
    cfg, data = fold_data(args, fold, args.seed)
    seed_everything(cfg.train.seed)
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    if prepare is not None:
        assert isinstance(net, SiameseNetwork)  # model.appearance is off: the network alone
        prepare(net)
    if log is None:
        log = lambda line: print(f"   {fold} {line}", flush=True)  # noqa: E731
    trainer = Trainer.from_config(net, cfg, data, progress=False, log=log)
    assert isinstance(net, SiameseNetwork) and trainer.forward is net  # one process, no DDP
    return Fold(fold, cfg, data, net, trainer, log, t0)


def run_taps_folds(
    ap: argparse.ArgumentParser,
    args: argparse.Namespace,
    run_fold: Callable[[argparse.Namespace, list[int]], dict[str, Any]],
    min_spread: float | None = 0.05,
) -> None:
    """Every fold of ``--folds`` on one thread, under the rounds' rule (T's EER + 0.005 on each
    fold, ``val_folds.stop_at_failing_fold``; ``min_spread`` ``None`` for round 9's)."""
    torch.set_num_threads(1)
    run_folds(ap, args, stop_at_failing_fold(run_fold, T_FOLD_LIMITS, min_spread=min_spread))
