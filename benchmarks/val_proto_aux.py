"""Issue 20, round 17: the taps recipe's tuplet loss with a prototypical term beside it, on
validation CLASSES only (the folds of ``val_folds.py``; only images of the fold's classes, all
inside 0-5, are trained on, embedded or scored: the test split is emptied before training).

Why. Round 16 put the prototypical loss (Snell, Swersky and Zemel, NeurIPS 2017) in place of the
tuplet margin loss: one support a class came within 0.008 of T's EER on {2,5} and five supports
within 0.025, both worse than T. Replacing the loss dropped what the tuplet loss gives (every
pair of the batch, the margin); what the episode adds was never tried on top of it. Verification
systems scored by EER train a classification loss and the prototypical loss together at a fixed
weight: speaker verification's clovaai/voxceleb_trainer (Chung et al., "In defence of metric
learning for speaker recognition", Interspeech 2020; Heo et al.'s VoxSRC 2020 baseline) has a
``softmaxproto`` loss, softmax plus the angular prototypical loss summed at equal weight. No
round of issue 20 trained the tuplet loss beside an episodic one (round 9 added SimCLR beside
it, round 14 a tuplet term on mixes).

The objective, :class:`AuxObjective` (a replacement of the fold trainer's objective; nothing in
``src`` changes): ``tuplet(z, labels) + w * proto(z, labels)``, where

- ``tuplet`` is the recipe's own loss object (``siamkit.losses.TupletMarginLoss``, margin 0.1,
  scale 64, over every pair of the batch), called as T's trainer calls it;
- ``proto`` is round 16's :func:`val_proto.prototypical_loss` unchanged, with its ``s1``
  settings: each class's first sample in batch order is its support (the sampler draws a class's
  48 images in a random order), the other 47 are queries, logits ``-16 ||q - c_k||^2`` on the
  L2-normalised embeddings, the mean cross-entropy over the queries;
- ``w`` is fixed (not learned); both terms see the same batch and the same embeddings (one
  forward pass), so the steps, batches and generators are T's.

Round 17's rule, written and committed before any validation figure of this script. The reference
T is the shipped taps recipe (``configs/hypercolumn.yaml``, tuplet margin 0.1 / 64, Adam) as round
7 ran it (10 x 50 steps, ``train.val_metric=none``, folds {2,5}, {0,3}, {1,4}, seed 0): EER 0.056
/ 0.333 / 0.167, mean 0.186. First, ``--aux none`` (the trainer untouched) must reproduce T on
fold {2,5} (EER 0.056; rounds 14 to 16 got 0.0563, 2-way 1-shot 0.982: CPU training is
deterministic); src has changed since round 16 ran, so its reproduction is not reused. If T does
not reproduce, no candidate is run. The two candidates, fixed here (no other value is tried this
round), each the tuplet loss plus ``w`` times the prototypical loss with one support a class and
scale 16 (round 16's ``s1``, the closer of its two to T on {2,5}, and the target's 1-shot):

- ``--aux w1``: ``w = 1`` (the two terms at equal weight, as the combinations above; at the last
  epoch of {2,5} T's tuplet loss averaged 0.336 in round 15's log and ``s1``'s prototypical
  loss 0.332 in round 16's, so neither term swamps the other);
- ``--aux w03``: ``w = 0.3`` (a lighter term: the tuplet loss leads, the episode nudges).

Both take the same 500 steps as T, with the same seed, batches, optimiser and EMA. A candidate
**passes** if its mean EER over the three folds is <= 0.176, no fold is worse than T's by more
than 0.005 (0.061, 0.338, 0.172), and its spread is >= 0.05 on every fold. Each candidate runs
fold by fold and stops at the first fold that fails (``val_folds.stop_at_failing_fold``). This
script does not train on, embed or score the test classes 6-9 in any case; if a candidate passes,
it is reported and nothing else changes this stop (no config, no test classes: the lead decides);
if both pass, the lower mean EER is the one reported as the round's pick.

Round 17's result (2026-12-07): ``--aux none`` reproduced T on {2,5} (EER 0.0563, 2-way 1-shot
0.982); nothing passed. ``w1`` 0.0537 / 0.3347 / 0.1653, mean 0.1846, above 0.176; ``w03``
0.0560 / 0.3370, then 0.1721 on {1,4}, above the limit 0.172 there. Only images of classes 0-5
were trained on, embedded or scored. BENCHMARKS.md "Issue 20, round 17".

Run: as ``val_taps.py`` says, with ``--aux w1`` (``--help`` prints the command).
"""

from __future__ import annotations

import argparse
from typing import Any

from torch import Tensor, nn

from val_taps import run_taps_folds, start_fold, taps_arguments  # isort: skip (sets sys.path)

from siamkit.losses import TupletMarginLoss
from val_proto import check_supports, prototypical_loss

#: the rule's two candidates: the prototypical term's weight, its supports a class, its scale
CANDIDATES = {"w1": (1.0, 1, 16.0), "w03": (0.3, 1, 16.0)}
MODES = ("none", *CANDIDATES)


class AuxObjective(nn.Module):
    """The trainer's objective ``(z, labels, indices=None)``: ``base(z, labels) + weight *
    prototypical_loss(z, labels, support, scale)`` (module docstring). ``parts``: each step's
    ``(tuplet, prototypical)`` terms, for the run's log."""

    def __init__(self, base: nn.Module, weight: float, support: int, scale: float) -> None:
        super().__init__()
        if weight <= 0 or support < 1 or scale <= 0:
            raise ValueError(
                f"needs a positive weight, >= 1 support and a positive scale, got {weight}, "
                f"{support}, {scale}"
            )
        self.base, self.weight, self.support, self.scale = base, weight, support, scale
        self.parts: list[tuple[float, float]] = []

    def forward(self, z: Tensor, labels: Tensor, indices: Any = None) -> Tensor:
        if indices is not None:
            raise SystemExit(
                "round 17 takes whole batches as episodes; run it with loss.mining=null"
            )
        pair = self.base(z, labels)
        episode = prototypical_loss(z, labels, self.support, self.scale)
        self.parts.append((float(pair.detach()), float(episode.detach())))
        return pair + self.weight * episode  # type: ignore[no-any-return]


def aux_objective(mode: str, base: nn.Module) -> AuxObjective:
    """The rule's candidate ``mode`` (``w1`` or ``w03``) on the recipe's loss ``base``."""
    if mode not in CANDIDATES:
        raise ValueError(f"--aux must be one of {', '.join(CANDIDATES)} here, got {mode!r}")
    if not isinstance(base, TupletMarginLoss):
        raise SystemExit(
            f"round 17 adds its term to the taps recipe's tuplet margin loss, not to "
            f"{type(base).__name__}: run it with configs/hypercolumn.yaml's loss"
        )
    return AuxObjective(base, *CANDIDATES[mode])


def parts_line(parts: list[tuple[float, float]], per_epoch: int) -> str:
    """The two terms at the first and last steps and their means over the last ``per_epoch``
    steps (the last epoch)."""
    last = parts[-per_epoch:]
    tuplet = sum(p[0] for p in last) / len(last)
    episode = sum(p[1] for p in last) / len(last)
    return (
        f"tuplet, prototypical: first step {parts[0][0]:.3f}, {parts[0][1]:.3f}; last "
        f"{parts[-1][0]:.3f}, {parts[-1][1]:.3f}; mean of the last {len(last)} steps "
        f"{tuplet:.3f}, {episode:.3f}"
    )


def run_fold(args: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
    run = start_fold(args, fold)
    objective = None
    if args.aux != "none":
        support = CANDIDATES[args.aux][1]
        check_supports(
            f"--aux {args.aux}", support, run.trainer.batches, run.cfg.data.labels_per_class
        )
        objective = aux_objective(args.aux, run.trainer.objective)
        run.trainer.objective = objective
    result = run.trainer.fit()
    if objective is not None and objective.parts:
        run.log(parts_line(objective.parts, run.cfg.train.steps_per_epoch or len(objective.parts)))
    return run.result(args, result.history)


def main() -> None:
    ap = taps_arguments(__doc__, "val_proto_aux.py", "--aux w1")
    ap.add_argument(
        "--aux",
        choices=MODES,
        required=True,
        help="the prototypical term: none (T alone), w1 or w03",
    )
    args = ap.parse_args()
    run_taps_folds(ap, args, run_fold)


if __name__ == "__main__":
    main()
