"""Issue 20, round 16: prototypical episodes (train as you test) for the taps recipe, on validation
CLASSES only (the folds of ``val_folds.py``; only images of the fold's classes, all inside 0-5,
are trained on, embedded or scored: the test split is emptied before training).

Why. Issue 20 is scored as nearest-prototype N-way K-shot classification (4-way 1-shot) and
verification EER on classes never trained on, but the taps recipe trains a pairwise objective
(the tuplet margin loss). Snell, Swersky and Zemel, "Prototypical Networks for Few-shot Learning"
(NeurIPS 2017) train on the test's own task instead: each training batch is an episode whose
classes are split into a support set and queries; a class's prototype is the mean of its support
embeddings, and each query is classified by a softmax over its negative squared Euclidean
distances to the prototypes, with cross-entropy to its own class. None of the 18 losses in
``siamkit.losses.registry`` is episodic, and rounds 1-15 (BENCHMARKS.md) never trained this way.

The loss, :func:`prototypical_loss` (a replacement of the fold trainer's objective; nothing in
``src`` changes). The fold's batches are T's: P = 4 classes (all four training classes of the
fold) x K = 48 images, so each batch is one 4-way episode:

1. the embeddings ``z`` (the training forward: the 64-d head, the taps being zeros in training,
   ``tap_train: false``) are L2-normalised again (a no-op on the head's unit vectors);
2. for each class of the batch, its first ``S`` samples in batch order are its support (the
   sampler draws a class's ``K`` images in a random order, so these are a random ``S`` of them)
   and its other ``K - S`` samples are queries (a class with fewer than ``S`` samples, or a
   batch with no query, is an error, and the script refuses, before training, a fold whose
   batches hold ``S`` or fewer images of a class: ``train.samples_per_class`` <= ``S``, or a
   class cut to so few by ``data.labels_per_class``; the rounds' batches have ``K = 48``);
3. the prototype ``c_k`` is the mean of class ``k``'s ``S`` support embeddings (not
   renormalised, as Snell et al.'s mean);
4. each query ``q`` has logits ``-s ||q - c_k||^2`` over the batch's prototypes, with the fixed
   scale ``s = 16`` (unit vectors put ``||q - c||^2`` in [0, 4]: logits in [-64, 0], the
   range of T's tuplet scale 64 on a cosine; a fixed scale, not learned, so the optimiser and
   the checkpoint stay T's);
5. the loss is the mean over the queries of the cross-entropy to the query's own class. The
   support samples are not scored as queries, and no query enters any prototype.

Round 16's rule, written and committed before any validation figure of this script. The reference
T is the shipped taps recipe (``configs/hypercolumn.yaml``, tuplet margin 0.1 / 64, Adam) as round
7 ran it (10 x 50 steps, ``train.val_metric=none``, folds {2,5}, {0,3}, {1,4}, seed 0): EER 0.056
/ 0.333 / 0.167, mean 0.186. First, ``--proto none`` (the trainer untouched) must reproduce T on
fold {2,5} (EER 0.056; rounds 14 and 15 got 0.0563, 2-way 1-shot 0.982: CPU training is
deterministic); src has changed since round 15 ran, so its reproduction is not reused. If T does
not reproduce, no candidate is run. The two candidates, fixed here (no other value is tried this
round), each the prototypical loss alone in place of the tuplet loss, scale 16:

- ``--proto s1``: ``S = 1`` support per class, 47 queries per class (train as you test: the
  target is 1-shot);
- ``--proto s5``: ``S = 5`` supports per class, 43 queries per class (Snell et al.'s
  averaged prototype, the target's 5-shot).

Both take the same 500 steps as T, with the same seed, batches, optimiser and EMA. A candidate
**passes** if its mean EER over the three folds is <= 0.176, no fold is worse than T's by more
than 0.005 (0.061, 0.338, 0.172), and its spread is >= 0.05 on every fold. Each candidate runs
fold by fold and stops at the first fold that fails (``val_folds.stop_at_failing_fold``). This
script does not train on, embed or score the test classes 6-9 in any case; if a candidate passes,
it is reported and nothing else changes this stop (no config, no test classes); if both pass,
the lower mean EER is the one reported as the round's pick.

Round 16's result (2026-12-07): ``--proto none`` reproduced T on {2,5} (EER 0.0563, 2-way 1-shot
0.982); nothing passed. ``s1`` 0.0639 and ``s5`` 0.0811 on {2,5}, against the limit 0.061 there,
so neither ran {0,3} or {1,4}. Only images of classes 0-5 were trained on, embedded or scored.
BENCHMARKS.md "Issue 20, round 16".

Run: as ``val_taps.py`` says, with ``--proto s1`` (``--help`` prints the command).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from val_taps import run_taps_folds, start_fold, taps_arguments  # isort: skip (sets sys.path)

from siamkit.clauses import counted
from siamkit.losses.functional import at_least_float32
from siamkit.training.batch_source import PKBatches

#: the rule's two candidates: supports per class, scale
CANDIDATES = {"s1": (1, 16.0), "s5": (5, 16.0)}
MODES = ("none", *CANDIDATES)


def support_split(labels: Tensor, support: int) -> tuple[Tensor, Tensor]:
    """``(classes, is_support)``: the batch's classes (sorted) and a bool mask of the samples
    that are supports (each class's first ``support`` samples in batch order)."""
    classes = labels.unique()
    is_support = torch.zeros(len(labels), dtype=torch.bool, device=labels.device)
    for c in classes:
        idx = (labels == c).nonzero().squeeze(1)
        if len(idx) < support:
            raise ValueError(
                f"class {int(c)} has {counted(len(idx), 'sample')} in the batch, fewer than the "
                f"{counted(support, 'support')} a prototype takes: a batch needs more images of each class than the supports "
                "(train.samples_per_class, data.labels_per_class)"
            )
        is_support[idx[:support]] = True
    if bool(is_support.all()):
        raise ValueError(
            f"every sample of the batch is a support ({counted(support, 'support')} a class): no "
            "query; a batch needs more images of each class than the supports "
            "(train.samples_per_class, data.labels_per_class)"
        )
    return classes, is_support


def prototypical_loss(z: Tensor, labels: Tensor, support: int, scale: float) -> Tensor:
    """The prototypical-network loss of one batch taken as one episode (module docstring)."""
    z = F.normalize(at_least_float32(z), dim=1)
    classes, is_support = support_split(labels, support)
    protos = torch.stack([z[is_support & (labels == c)].mean(dim=0) for c in classes])
    queries, query_labels = z[~is_support], labels[~is_support]
    d2 = (queries[:, None, :] - protos[None, :, :]).pow(2).sum(dim=-1)  # (Q, C)
    target = torch.searchsorted(classes, query_labels)
    return F.cross_entropy(-scale * d2, target)


class PrototypicalObjective(nn.Module):
    """The trainer's objective ``(z, labels, indices=None)``: :func:`prototypical_loss`."""

    def __init__(self, support: int, scale: float) -> None:
        super().__init__()
        if support < 1 or scale <= 0:
            raise ValueError(f"needs >= 1 support and a positive scale, got {support}, {scale}")
        self.support, self.scale = support, scale

    def forward(self, z: Tensor, labels: Tensor, indices: Any = None) -> Tensor:
        if indices is not None:
            raise SystemExit(
                "round 16 takes whole batches as episodes; run it with loss.mining=null"
            )
        return prototypical_loss(z, labels, self.support, self.scale)


def proto_objective(mode: str) -> PrototypicalObjective:
    """The rule's candidate ``mode`` (``s1`` or ``s5``)."""
    if mode not in CANDIDATES:
        raise ValueError(f"--proto must be one of {', '.join(CANDIDATES)} here, got {mode!r}")
    return PrototypicalObjective(*CANDIDATES[mode])


def _fewest(counts: np.ndarray, k: int) -> list[int]:
    """The fewest images of each class (of ``counts`` training images) a batch holds when
    ``PKSampler._chunks`` splits its ``n`` images into ``ceil(n / k)`` near-equal chunks."""
    return [int(n) // -(-int(n) // k) for n in counts]


def smallest_class_in_a_batch(batches: PKBatches) -> tuple[int, int, int]:
    """``(images, label, count)``: the fewest images of one class a batch of ``batches`` holds,
    the class (its label) and its training images. A sampler that neither fills nor draws by
    ``class_power`` holds ``n // ceil(n / K)`` of a class of ``n`` images at fewest, not ``K``
    (``data.labels_per_class: 5`` keeps 5 a class); the others top every class up to ``K``."""
    sampler = batches.sampler
    labels, counts = np.unique(sampler.labels, return_counts=True)
    if sampler.fill or sampler.class_power is not None:
        return batches.k, int(labels[0]), int(counts[0])
    held = _fewest(counts, batches.k)
    i = int(np.argmin(held))
    return held[i], int(labels[i]), int(counts[i])


def check_episodes(mode: str, batches: PKBatches, labels_per_class: int | None) -> None:
    """:func:`check_supports` for ``--proto MODE``: the candidate ``mode`` takes
    ``CANDIDATES[mode][0]`` supports a class."""
    check_supports(f"--proto {mode}", CANDIDATES[mode][0], batches, labels_per_class)


def check_supports(
    option: str, support: int, batches: PKBatches, labels_per_class: int | None
) -> None:
    """Refuse, in one sentence naming the options, a fold whose batches hold a class with no
    query once the candidate ``option`` (e.g. ``--proto s1``, or round 17's ``--aux w1``) has
    taken its ``support`` supports a class (at most the supports of it)."""
    k = batches.k
    held, label, n = smallest_class_in_a_batch(batches)
    if held > support:
        return
    head = f"{option} takes {counted(support, 'support')} a class and needs a query: "
    kept = "" if labels_per_class is None else f" (data.labels_per_class={labels_per_class})"
    few = labels_per_class is not None and labels_per_class <= support
    if k <= support and few:
        raise SystemExit(
            f"{head}train.samples_per_class ({k}) and data.labels_per_class "
            f"({labels_per_class}) must both be above {support}"
        )
    if k <= support:
        raise SystemExit(f"{head}train.samples_per_class must be above {support}, got {k}")
    if n <= support:
        advice = (
            f"raise data.labels_per_class above {support}"
            if few
            else "the fold has no more images of it, so it cannot train this candidate"
        )
        raise SystemExit(
            f"{head}a batch holds {counted(held, 'image')} of class {label}, all its "
            f"{counted(n, 'training image')}{kept}; {advice}"
        )
    # every class has more than the supports: K at the largest class's count holds each whole
    counts = np.unique(batches.sampler.labels, return_counts=True)[1]
    enough = next(
        j for j in range(k + 1, int(counts.max()) + 1) if min(_fewest(counts, j)) > support
    )
    raise SystemExit(
        f"{head}a batch holds as few as {counted(held, 'image')} of class {label}, its "
        f"{n:,} training images{kept} split into batches of up to train.samples_per_class={k}; "
        f"raise train.samples_per_class to {enough:,}"
    )


def run_fold(args: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
    run = start_fold(args, fold)
    if args.proto != "none":
        check_episodes(args.proto, run.trainer.batches, run.cfg.data.labels_per_class)
        run.trainer.objective = proto_objective(args.proto)
    result = run.trainer.fit()
    return run.result(args, result.history)


def main() -> None:
    ap = taps_arguments(__doc__, "val_proto.py", "--proto s1")
    ap.add_argument(
        "--proto", choices=MODES, required=True, help="the loss: none (T alone), s1 or s5"
    )
    args = ap.parse_args()
    run_taps_folds(ap, args, run_fold)


if __name__ == "__main__":
    main()
