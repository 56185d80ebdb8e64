"""Issue 20, round 12: the network's own early features taught HOG's geometry during training,
on validation CLASSES only (the folds of ``val_folds.py``; the test classes 6-9 are dropped before
training).

Why. On the validation folds the parameter-free HOG features beat the taps recipe on two of the
three folds (measured before this rule, no training: HOG alone EER 0.144 / 0.306 / 0.085 on
{2,5} / {0,3} / {1,4}; the taps recipe T 0.056 / 0.333 / 0.167), and the demo gets its lead by
joining HOG at embedding time, which issue 20 asks to replace by a learned-only recipe. Here the
*network* is taught: each step adds ``--distill-weight`` times a relational knowledge-distillation
loss (Park et al. 2019, "Relational Knowledge Distillation", the distance-wise term RKD-D) between
the batch's pairwise distances in the network's block-1 taps (the learned features the taps recipe
joins at embedding time, ``configs/hypercolumn.yaml``: 64 channels pooled in 4x4 and 2x2 cells,
square-rooted, L2-normalised) and the same images' pairwise distances in the demo's HOG features
(12 signed bins, 7- and 14-pixel cells). Each distance matrix is divided by its mean, and the
loss is the smooth-L1 of the difference over the batch's pairs. HOG is a training-time teacher
only: the saved network has no hand-crafted features, and it embeds exactly as the taps recipe
does (head and taps, both learned). The tuplet loss still trains the head, as in T.

Round 12's rule, written and committed before any validation figure of this script. The
reference T is the shipped taps recipe (``configs/hypercolumn.yaml``, tuplet margin) as round 7
ran it (10 x 50 steps, ``train.val_metric=none``, folds {2,5}, {0,3}, {1,4}, seed 0): EER 0.056
/ 0.333 / 0.167, mean 0.186. The candidates are T plus the distillation loss at weight 10, 100
and 1000 (the loss sizes were looked at on one training batch of fold {2,5} before this rule,
not on any validation image, with ``--sizes-only``: tuplet 4.617, RKD-D 0.0292 at the first step,
so these weights make the term about 0.3, 3 and 30: small beside the tuplet loss, its equal, and
dominant). A candidate **passes** if its
mean EER is <= 0.176, no fold is worse than T's by more than 0.005 (0.061, 0.338, 0.172), and its
spread is >= 0.05 on every fold. Each candidate runs fold by fold and stops at the first fold
that fails. If one passes, the lowest mean is implemented as a config option, its library path is
checked to reproduce this script's validation figures, and it is then run **once** on the test
classes (``bench_fmnist.py``, seeds 0-2), as round 7's pick was; ``configs/demo.yaml`` becomes
learned-only only if the main split then meets issue 20's target (1-shot >= 0.80, EER <= 0.16).
If none passes, nothing changes and the test classes are not run. Whether a network taught by a
hand-crafted teacher counts as "learned only" is for the issue's reader: the closing note says
how it was trained either way.

Round 12's result (same day): nothing passed (mean EER w=10 0.180, w=100 0.181; w=1000 failed
{2,5} at 0.063); the test classes were not run. BENCHMARKS.md "Issue 20, round 12".

Run: as ``val_taps.py`` says, with ``--distill-weight 10`` (``--help`` prints the command).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from val_taps import run_taps_folds, start_fold, taps_arguments  # isort: skip (sets sys.path)

from siamkit.encoders.convnet import ConvNet
from siamkit.heads.appearance import hog_features
from siamkit.models import SiameseNetwork

HOG = {"bins": 12, "cell": 7, "signed": True, "levels": 2}  # configs/demo.yaml's appearance


def rkd_distance_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Park et al.'s RKD-D: smooth-L1 between the two sets' pairwise distances, each divided by
    its mean over the batch's pairs (i < j); the teacher carries no gradient."""
    n = student.shape[0]
    iu = torch.triu_indices(n, n, offset=1, device=student.device)
    with torch.no_grad():
        t = torch.cdist(teacher, teacher)[iu[0], iu[1]]
        t = t / t.mean().clamp_min(1e-12)
    s = torch.cdist(student, student)[iu[0], iu[1]]
    s = s / s.mean().clamp_min(1e-12)
    return F.smooth_l1_loss(s, t)


class DistillForward(nn.Module):
    """Embeds the batch for the recipe's loss and, on the side, computes the RKD-D loss of the
    block-1 taps against HOG (kept in ``aux`` for :class:`DistillObjective`)."""

    def __init__(self, net: SiameseNetwork, weight: float) -> None:
        super().__init__()
        enc = net.encoder
        if not isinstance(enc, ConvNet) or not enc.taps:
            raise SystemExit("round 12 needs a ConvNet with taps (configs/hypercolumn.yaml)")
        self.net, self.weight = net, weight
        self.aux: Tensor | None = None
        self._h: list[Tensor] = []
        for idx in enc._tap_at:
            enc.features[idx].register_forward_hook(lambda _m, _i, out: self._h.append(out))

    def embed(self, x: Tensor) -> Tensor:
        self._h.clear()
        z = self.net.embed(x)
        enc = self.net.encoder
        assert isinstance(enc, ConvNet)
        parts = [p for h in self._h for p in enc.tap_features(h)]
        taps = torch.cat(parts, dim=1) / math.sqrt(len(parts))
        teacher = hog_features(x.float(), **HOG)
        self.aux = rkd_distance_loss(taps.float(), teacher)
        return z


class DistillObjective(nn.Module):
    def __init__(self, base: Any, fwd: DistillForward) -> None:
        super().__init__()
        self.base, self.fwd = base, fwd
        self.parts: list[tuple[float, float]] = []

    def forward(self, z: Tensor, labels: Tensor, indices: Any = None) -> Tensor:
        loss = self.base(z, labels) if indices is None else self.base(z, labels, indices)
        assert self.fwd.aux is not None
        self.parts.append((float(loss.detach()), float(self.fwd.aux.detach())))
        return loss + self.fwd.weight * self.fwd.aux  # type: ignore[no-any-return]


def run_fold(args: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
    run = start_fold(args, fold)
    net, trainer = run.net, run.trainer
    objective = None
    if args.distill_weight > 0:
        fwd = DistillForward(net, args.distill_weight)
        trainer.forward = fwd
        objective = DistillObjective(trainer.objective, fwd)
        trainer.objective = objective
    result = trainer.fit()
    if objective is not None and objective.parts:  # loss sizes at the first and last steps
        first, last = objective.parts[0], objective.parts[-1]
        run.log(
            f"tuplet, rkd-d: first step {first[0]:.3f}, {first[1]:.4f}; last {last[0]:.3f}, {last[1]:.4f}"
        )
    return run.result(args, result.history)


def main() -> None:
    ap = taps_arguments(__doc__, "val_distill.py", "--distill-weight 10")
    ap.add_argument("--distill-weight", type=float, required=True, help="0: the recipe alone")
    ap.add_argument(
        "--sizes-only",
        action="store_true",
        help="print the two losses' sizes on the first training batch of the first fold and stop "
        "(no validation image is embedded)",
    )
    args = ap.parse_args()
    if args.sizes_only:
        torch.set_num_threads(1)
        fold = [int(c) for c in args.folds.split(";")[0].split(",")]
        run = start_fold(args, fold, log=print)
        fwd = DistillForward(run.net, 1.0)
        objective = DistillObjective(run.trainer.objective, fwd)
        x, y = next(iter(run.trainer.batches.epoch(0)))[:2]
        run.net.train()
        objective(fwd.embed(x), y)
        print(
            f"first training batch of {fold}: tuplet {objective.parts[0][0]:.3f}, rkd-d {objective.parts[0][1]:.4f}"
        )
        return

    run_taps_folds(ap, args, run_fold)


if __name__ == "__main__":
    main()
