"""Issue 20, round 15: sharpness-aware minimisation (SAM, ASAM) of the taps recipe, on validation
CLASSES only (the folds of ``val_folds.py``; the test classes 6-9 are dropped before training).

Why. Foret, Kleiner, Mobahi and Neyshabur, "Sharpness-Aware Minimization for Efficiently
Improving Generalization" (SAM, ICLR 2021) minimise the loss in the worst case over a ball of
radius ``rho`` around the weights instead of at the weights: each step ascends to
``w + e(w)``, ``e(w) = rho g / ||g||_2`` (``g`` the batch's gradient at ``w``), takes the gradient
there and steps from ``w`` with the base optimiser. Flatter minima are reported to transfer better
(the paper's fine-tuning and label-noise results; later few-shot work). Kwon, Kim, Park and Choi,
"ASAM: Adaptive Sharpness-Aware Minimization for Scale-Invariant Learning of Deep Neural
Networks" (ICML 2021) scale the ball by the weights (``T_w = |w| + eta`` elementwise):
``e(w) = rho T_w^2 g / ||T_w g||_2``, so that a rescaling of the weights that leaves the network's
function alone (batch norm, the L2-normalised embedding) does not change the perturbation's
effect. Neither was ever tried for issue 20 (rounds 1-14 in BENCHMARKS.md).

The step, :class:`SamStep` (a wrapper around ``siamkit.training.step.train_step``; ``Trainer``
calls it in its place for the fold's run, nothing in ``src`` changes):

1. the batch's loss ``L(w)`` and its gradient ``g`` at ``w`` (the trainer's forward in training
   mode, as ``train_step`` does; this is the loss the epoch lines report);
2. the ascent: every parameter the optimiser steps moves by its part of ``e(w)``, the norm taken
   over all of them together (the whole batch of 192: no m-sharpness split);
3. ``L(w + e)`` and its gradient, with batch norm in training mode (batch statistics) but its
   running statistics restored afterwards, so that only the clean pass updates them (as
   davda54/sam's ``disable_running_stats``);
4. the restore: every parameter set back to the copy of ``w`` taken before the ascent (exactly,
   not by subtracting ``e``);
5. the base optimiser (the recipe's Adam, lr 1e-3, its schedule) steps from ``w`` with the
   gradient of step 3.

ASAM follows SamsungLabs/ASAM's ``asam.py``: ``T_w = |w| + eta`` for the parameters whose name
contains ``weight`` (conv, linear and batch-norm weights), ``T_w = 1`` for the others (biases);
``eta = 0.01``. SAM is the case ``T_w = 1`` everywhere.

Round 15's rule, written and committed before any validation figure of this script. The reference
T is the shipped taps recipe (``configs/hypercolumn.yaml``, tuplet margin 0.1 / 64, Adam) as round
7 ran it (10 x 50 steps, ``train.val_metric=none``, folds {2,5}, {0,3}, {1,4}, seed 0): EER 0.056
/ 0.333 / 0.167, mean 0.186. First, ``--sam none`` (the trainer untouched) must reproduce T on
fold {2,5} (EER 0.056; round 14 got 0.0563, 2-way 1-shot 0.982: CPU training is deterministic);
if it does not, no candidate is run. The two candidates, fixed here (no other value is tried this
round):

- ``--sam sam``: SAM, ``rho = 0.05`` (Foret et al.'s default);
- ``--sam asam``: ASAM, ``rho = 0.5``, ``eta = 0.01`` (Kwon et al.'s defaults).

Both take the same 500 steps as T (two forward/backward passes each, about twice T's compute)
and the same seed, batches and EMA. A candidate **passes** if its mean EER over the three folds is
<= 0.176, no fold is worse than T's by more than 0.005 (0.061, 0.338, 0.172), and its spread is
>= 0.05 on every fold. Each candidate runs fold by fold and stops at the first fold that fails
(``val_folds.stop_at_failing_fold``). The test classes 6-9 are not run by this script in any case;
if a candidate passes, it is reported and nothing else changes this stop (no config, no test
classes); if both pass, the lower mean EER is the one reported as the round's pick.

Round 15's result (2026-12-07): ``--sam none`` reproduced T on {2,5} (EER 0.0563, 2-way 1-shot
0.982); nothing passed. ``sam`` 0.0529 on {2,5}, then 0.3452 on {0,3}; ``asam`` 0.0510, then
0.3499 on {0,3}; both against the limit 0.338 there. The test classes 6-9 were dropped before
training, never embedded or scored. BENCHMARKS.md "Issue 20, round 15".

Run: as ``val_taps.py`` says, with ``--sam sam`` (``--help`` prints the command).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import torch
from torch import Tensor, nn

from val_taps import run_taps_folds, start_fold, taps_arguments  # isort: skip (sets sys.path)

import siamkit.training.trainer as trainer_module
from siamkit.training.step import embed_batch

#: the two candidates of the rule: (adaptive, rho, eta)
CANDIDATES = {"sam": (False, 0.05, 0.0), "asam": (True, 0.5, 0.01)}
MODES = ("none", *CANDIDATES)


@contextmanager
def running_stats_kept(model: nn.Module) -> Iterator[None]:
    """Batch norm's running statistics as they were on entry, whatever the block's forward passes
    in training mode do to them (they still normalise by the batch's own statistics)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [{k: b.clone() for k, b in m.named_buffers(recurse=False)} for m in norms]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, buffers in zip(norms, saved, strict=True):
                for k, b in m.named_buffers(recurse=False):
                    b.copy_(buffers[k])


class SamStep:
    """``train_step``'s signature, one SAM (``adaptive=False``) or ASAM step (module docstring).

    ``scaled``: the ids of the parameters ASAM scales by ``|w| + eta`` (those named ``weight``);
    ``steps``: ``(L(w), L(w + e), ||e||)`` of every step, for the run's log."""

    def __init__(
        self, rho: float, adaptive: bool = False, eta: float = 0.0, scaled: set[int] | None = None
    ) -> None:
        if rho <= 0:
            raise ValueError(f"SAM's rho must be positive, got {rho}")
        self.rho, self.adaptive, self.eta = rho, adaptive, eta
        self.scaled = scaled if scaled is not None else set()
        self.steps: list[tuple[float, float, float]] = []

    def scale(self, p: Tensor) -> Tensor | float:
        """``T_w`` of one parameter: ``|w| + eta`` (ASAM, a weight), else 1."""
        if self.adaptive and id(p) in self.scaled:
            return p.abs() + self.eta
        return 1.0

    @torch.no_grad()
    def ascend(self, params: list[Tensor]) -> tuple[list[tuple[Tensor, Tensor]], float]:
        """Move each parameter with a gradient to ``w + e``; ``[(p, w)]`` (copies of ``w``) and
        ``||e||``."""
        live = [p for p in params if p.grad is not None]
        norm = torch.stack([(self.scale(p) * p.grad).norm() for p in live]).norm()  # type: ignore[operator]
        factor = self.rho / (float(norm) + 1e-12)
        saved, sq = [], 0.0
        for p in live:
            t = self.scale(p)
            e = (t * t) * p.grad * factor  # type: ignore[operator]
            saved.append((p, p.detach().clone()))
            p.add_(e)
            sq += float((e * e).sum())
        return saved, sq**0.5

    def __call__(
        self,
        model: nn.Module,
        batch: tuple[Tensor, ...],
        loss_fn: Callable[..., Tensor],
        optimizer: torch.optim.Optimizer,
        *,
        scheduler: Any | None = None,
        scaler: Any | None = None,
        amp: bool = False,
        grad_clip: float | None = None,
        gather: Any | None = None,
        loss_scale: float = 1.0,
    ) -> float:
        if scaler is not None or amp or gather is not None:
            raise SystemExit("round 15's SAM step runs in one CPU process: no AMP, no DDP")
        x, labels = batch[0], batch[1]
        triplets = batch[2] if len(batch) > 2 else None
        model.train()

        def loss_here() -> Tensor:
            z = embed_batch(model, x).float()
            loss = loss_fn(z, labels) if triplets is None else loss_fn(z, labels, triplets)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the loss became {float(loss.detach())}")
            return loss

        params = [p for group in optimizer.param_groups for p in group["params"]]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_here()
        (loss * loss_scale).backward()
        saved, size = self.ascend(params)
        optimizer.zero_grad(set_to_none=True)
        with running_stats_kept(model):
            sharp = loss_here()
            (sharp * loss_scale).backward()
        with torch.no_grad():
            for p, w in saved:
                p.copy_(w)
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        self.steps.append((float(loss.detach()), float(sharp.detach()), size))
        return float(loss.detach())


def sam_step(mode: str, net: nn.Module) -> SamStep:
    """The rule's candidate ``mode`` (``sam`` or ``asam``) for ``net``."""
    if mode not in CANDIDATES:
        raise ValueError(f"--sam must be one of {', '.join(CANDIDATES)} here, got {mode!r}")
    adaptive, rho, eta = CANDIDATES[mode]
    scaled = {id(p) for name, p in net.named_parameters() if "weight" in name}
    return SamStep(rho, adaptive, eta, scaled)


def run_fold(args: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
    run = start_fold(args, fold)
    if args.sam == "none":
        result = run.trainer.fit()
        return run.result(args, result.history)
    step = sam_step(args.sam, run.net)
    with mock.patch.object(trainer_module, "train_step", step):
        result = run.trainer.fit()
    first, last = step.steps[0], step.steps[-1]
    run.log(
        f"L(w), L(w+e), ||e|| ({len(step.steps)} steps): first {first[0]:.3f}, {first[1]:.3f}, "
        f"{first[2]:.4f}; last {last[0]:.3f}, {last[1]:.3f}, {last[2]:.4f}"
    )
    return run.result(args, result.history)


def main() -> None:
    ap = taps_arguments(__doc__, "val_sam.py", "--sam sam")
    ap.add_argument(
        "--sam", choices=MODES, required=True, help="the step: none (T alone), sam or asam"
    )
    args = ap.parse_args()
    run_taps_folds(ap, args, run_fold)


if __name__ == "__main__":
    main()
