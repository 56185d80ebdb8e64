"""Issue 20, round 18: the taps recipe on upsampled images (input resolution), on validation
CLASSES only (the folds of ``val_folds.py``; only images of the fold's classes, all inside 0-5,
are trained on, embedded or scored: the test split is emptied before training).

Why. Rounds 1-17 changed the loss, the training, the embedding or the data's classes; none
changed the resolution the network sees. The taps recipe's ConvNet sees 28 x 28 images. Small
images often transfer better when upsampled before the first layer: each layer then has more
spatial positions at the same weights, and its 3 x 3 kernels see a finer part of the image (the
few-shot literature's 84 px inputs against 32 px; Touvron et al., "Fixing the train-test
resolution discrepancy", NeurIPS 2019, on train and test resolution). Fashion-MNIST refuses
``data.image_size`` other than 28 (``siamkit.data.sources``), so the upsampling is done here.

The change, :class:`Upsampled` (nothing in ``src`` changes): the recipe's ConvNet is wrapped so
that its first operation is ``F.interpolate(x, size=(S, S), mode="bilinear",
align_corners=False)`` of the 28 x 28 (normalised) batch, then the ConvNet unchanged. The
wrapper is put in place before the trainer is built (``val_taps.start_fold``'s ``prepare``), so
every training step and every embedding goes through it; it adds no weights and no random draw,
so the network starts from T's weights. The fold checks after training and after embedding that
the ConvNet saw S x S images in both (it ends the script otherwise). The taps keep their
meaning: block 1's output is 21 x 21 (S = 42) or 28 x 28 (S = 56) instead of 14 x 14, and its
4 x 4 and 2 x 2 cells are taken with ``cell_means`` (``F.adaptive_avg_pool2d``'s cells: floor /
ceil bounds), so each cell still covers the same quarter or half of the image's side (up to a
row of overlap where the grid does not divide the map, as 14 in 4 already did) and the taps
keep their 1,280 values; the deep block is globally average-pooled whatever its size (10 x 10
at S = 42: the 2 x 2 max-pool drops block 1's last row and column of 21; 14 x 14 at S = 56).

Round 18's rule, written and committed before any validation figure of this script. The reference
T is the shipped taps recipe (``configs/hypercolumn.yaml``, tuplet margin 0.1 / 64, Adam) as round
7 ran it (10 x 50 steps, ``train.val_metric=none``, folds {2,5}, {0,3}, {1,4}, seed 0): EER 0.056
/ 0.333 / 0.167, mean 0.186. First, ``--res none`` (the trainer untouched, 28 x 28) must reproduce
T on fold {2,5} alone (EER 0.056; rounds 14 to 17 got 0.0563, 2-way 1-shot 0.982: CPU training is
deterministic); src has changed since round 17 ran, so its reproduction is not reused. If T does
not reproduce, no candidate is run. The two candidates, fixed here (no other size is tried this
round), each T with the images upsampled bilinearly before the ConvNet, in training and
embedding:

- ``--res x1.5``: S = 42 (1.5 times the side, 2.25 times the pixels);
- ``--res x2``: S = 56 (twice the side, 4 times the pixels).

Both take the same 500 steps as T, with the same seed, batches, optimiser and EMA. A candidate
**passes** if its mean EER over the three folds is <= 0.176, no fold is worse than T's by more
than 0.005 (0.061, 0.338, 0.172), and its spread is >= 0.05 on every fold. To finish in time
(compute grows with S squared), the six candidate folds run side by side after T, each its own
process with ``--folds`` naming one fold (1 torch thread each, ``nice``, OMP_NUM_THREADS=1); each
candidate is then judged in the fold order {2,5}, {0,3}, {1,4} and stops at its first failing
fold (``val_folds.stop_at_failing_fold`` ends that fold's process): figures of its later folds
are reported as run past its verdict and count for nothing. A fold not finished by 02:15 UTC is
stopped and reported as not run; a candidate with a fold not run before its first failing fold
gets no verdict. This script does not train on, embed or score the test classes 6-9 in any case;
if a candidate passes, it is reported and nothing else changes this stop (no config, no test
classes: the lead decides); if both pass, the lower mean EER is the one reported as the round's
pick.

Amended at 01:28 UTC, before any candidate figure (process only; T had reproduced on {2,5}:
EER 0.0563, 2-way 1-shot 0.9815, spread 0.0900, 406 s). The six candidate folds started at
01:20 UTC beside other engineers' jobs (load 9 to 17 on 2 cores); at ``nice`` each got about 4 %
of a core (19 CPU-s in 7 minutes) and none had finished its first epoch, so the six folds,
about 19 times the compute of T's fold (2.25 and 4 times it each), cannot finish by 02:15. Only
``x1.5`` (the cheaper) is run: its three folds go on; ``x2``'s three processes were stopped at
01:27 UTC, before any of its epochs ended, and ``x2`` gets no verdict this round. The pass rule,
the fold order and the 02:15 cut-off are unchanged.

Run: as ``val_taps.py`` says, with ``--res x2`` (``--help`` prints the command).
"""

from __future__ import annotations

import argparse
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from val_taps import run_taps_folds, start_fold, taps_arguments  # isort: skip (sets sys.path)

from siamkit.models import SiameseNetwork

#: the rule's two candidates: the side S of the images the ConvNet sees (from 28)
CANDIDATES = {"x1.5": 42, "x2": 56}
MODES = ("none", *CANDIDATES)


class Upsampled(nn.Module):
    """``encoder(F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False))``:
    the encoder on the batch upsampled (module docstring). It declares the encoder's
    ``num_features``, ``num_passthrough`` and ``in_channels``; ``seen`` counts the images it
    passed on in training mode and in eval mode, and ``sides`` the (H, W) it passed on."""

    def __init__(self, encoder: nn.Module, size: int) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"needs a positive side, got {size}")
        self.encoder, self.size = encoder, int(size)
        self.num_features = int(encoder.num_features)  # type: ignore[arg-type]
        self.num_passthrough = int(getattr(encoder, "num_passthrough", 0))
        self.in_channels = getattr(encoder, "in_channels", None)
        self.seen = {"train": 0, "eval": 0}
        self.sides: set[tuple[int, int]] = set()

    def forward(self, x: Tensor) -> Tensor:
        up = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        self.seen["train" if self.training else "eval"] += len(x)
        self.sides.add((int(up.shape[-2]), int(up.shape[-1])))
        return self.encoder(up)  # type: ignore[no-any-return]


def upsample(mode: str) -> Any:
    """The ``prepare`` of ``val_taps.start_fold`` for the rule's candidate ``mode``: wraps the
    network's encoder in :class:`Upsampled`."""
    if mode not in CANDIDATES:
        raise ValueError(f"--res must be one of {', '.join(CANDIDATES)} here, got {mode!r}")

    def prepare(net: SiameseNetwork) -> None:
        net.encoder = Upsampled(net.encoder, CANDIDATES[mode])

    return prepare


def check_seen(wrapper: Upsampled, mode: str, images: int, before: int = 0) -> None:
    """End the script unless the wrapper passed on ``images`` or more in ``mode`` (``train``,
    ``eval``) since it had passed on ``before``, all at its side: the candidate would otherwise
    be T, or half of it."""
    seen = wrapper.seen[mode] - before
    if seen < images or wrapper.sides != {(wrapper.size, wrapper.size)}:
        raise SystemExit(
            f"round 18: the ConvNet saw {seen} images in {mode} mode through the "
            f"upsampling (sides {sorted(wrapper.sides)}), expected at least {images} at "
            f"{wrapper.size} x {wrapper.size}: the wrapper was bypassed"
        )


def run_fold(args: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
    if args.res == "none":
        run = start_fold(args, fold)
        return run.result(args, run.trainer.fit().history)
    if args.embed_taps or args.embed_backbone:
        raise SystemExit(
            "round 18 scores the upsampled network as trained: run it without --embed-taps "
            "and --embed-backbone (they rebuild or bypass the encoder)"
        )
    run = start_fold(args, fold, prepare=upsample(args.res))
    wrapper = run.net.encoder
    assert isinstance(wrapper, Upsampled)
    history = run.trainer.fit().history
    check_seen(wrapper, "train", 1)
    before = wrapper.seen["eval"]  # the trainer's own eval-mode passes, if any
    out = run.result(args, history)
    check_seen(wrapper, "eval", len(run.data.val_y), before)
    run.log(
        f"the ConvNet saw {wrapper.size} x {wrapper.size} images: {wrapper.seen['train']} in "
        f"training mode, {wrapper.seen['eval'] - before} when embedding the held-out images"
    )
    return out


def main() -> None:
    ap = taps_arguments(__doc__, "val_resolution.py", "--res x2")
    ap.add_argument(
        "--res",
        choices=MODES,
        required=True,
        help="the images' side before the ConvNet: none (T, 28), x1.5 (42) or x2 (56)",
    )
    args = ap.parse_args()
    run_taps_folds(ap, args, run_fold)


if __name__ == "__main__":
    main()
