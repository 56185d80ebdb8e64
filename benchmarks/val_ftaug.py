"""Issue 17: augment the fine-tune's labelled images, on validation CLASSES only.

Issue 17's unmet target: fine-tuned from the SSL model with 10 labels per training class, the
embedding beats the same recipe trained from scratch on those labels by >= 0.05 4-way 1-shot on
the test classes 6-9 (+0.039 now). The fourth, sixth, eighth, ninth and eleventh SSL rules
changed the freezing, the rate, the length, the weights' mix (WiSE-FT), the loss and the
embedding (the start's features joined); all lost to the shipped recipe. None changed what the
fine-tune's steps see: the recipe trains with no augmentation (``data.augmentation: none``), and
10 labels a class make one P x K batch, so its 10 steps are 10 steps on the **same 40 images**.

The lever here: augment those images, a new draw each step (``data.augmentation``, the library's
own recipes, applied to each batch by the P x K batch source). The case from the literature:
SimCLR (Chen et al. 2020) and SimCLRv2 (Chen et al. 2020, "Big self-supervised models are strong
semi-supervised learners") fine-tune their self-supervised networks on 1% and 10% of the labels
with random crops and flips; BiT (Kolesnikov et al. 2020) fine-tunes with crops and flips in its
few-shot transfers too. Why it could widen the gap and not only lift both
rows: the SSL start was trained to map an image's crops, flips and colour changes together (its
views: crops of 50-100%, flips, jitter, erasing), so an augmented batch asks it for little it
cannot already give and its 10 steps go to the labels, while a network from scratch has those
invariances still to learn from 40 images.

Candidates, fixed before any figure (the library's recipes, unchanged; nothing else differs
from ``ref``):

* ``aug standard`` (``data.augmentation=standard``): resized crop of 80-100%, horizontal flip,
  brightness and contrast +-20%, random erasing (p 0.25): the library's recipe nearest the SSL
  views and SimCLR's fine-tuning crops and flips.
* ``aug shift-flip`` (``data.augmentation=shift-flip``): a shift of up to 2 pixels and a
  horizontal flip, the mildest one.

Everything else is ``val_ftjoin.py``'s (stop 62's round), reused from it: the fold's SimCLR under
the shrunk budget (:func:`val_ftjoin.ssl_model`), the fine-tune ``bench_ssl.finetune`` unchanged
(Adam 5e-4, constant, 10 epochs of 1 step, batch-hard triplets with margin 0.2, nothing frozen,
10 labels per class of the fold's four training classes, all four in every batch), from SSL and
from scratch (the same network's seeded random initialisation), by
:func:`val_ftjoin.finetune_with_start` (whose wrapper empties the fine-tune's test split before
anything trains), and the verdict :func:`val_ftjoin.judge`.

**Only images of classes 0-5 are trained on, embedded or scored here.** The SSL loader
(``load_ssl_data``, through ``ssl_val.ssl_fold_data``) reads the test split and keeps only its
class ids; the fine-tune's loader (``load_run_data``, which would keep the test split's images of
every class not trained on, 6-9 among them) is wrapped so that its test split is emptied before
anything trains. The held-out images scored are a seeded sample of 4,000 train-split images of
the fold's two classes (``ssl_val.held_out_images``).

Budget (stop 61's and 62's shrunk one; the 2 cores are shared by several engineers): SimCLR as
``configs/simclr.yaml`` ships it, ``data.limit=6000`` training images a fold, 6 epochs, seed 0, 1
torch thread; one process a fold, the three side by side.

The twelfth SSL rule, written before any figure of this script and committed before any at the
rule's budget (a smoke run on {2,5} at a toy budget printed figures in between; issue 17,
2026-12-07, stop 63; folds ``2,5;0,3;1,4``, seed 0), the eleventh's pass rule unchanged:

* Reference ``ref``: the shipped fine-tune (no augmentation), from SSL and from scratch, run by
  this script on the same folds and the same SSL models as the candidates. It must reproduce
  stop 62's ``ref`` rows (BENCHMARKS.md, "SSL fine-tuning: the start's features kept beside the
  fine-tuned ones": from SSL 0.1035 / 0.3542 / 0.1603 EER on {2,5} / {0,3} / {1,4}); if it does
  not, the run is reported as not reproducing and judged on this run's own ``ref``.
* Metrics on a fold, for a row pair X (X from ssl, X from scratch): the **gap** = X from SSL's
  2-way 1-shot minus X from scratch's (``val_2w1s``; a fold holds two classes, so 2-way is the
  most ways it allows), and X from SSL's verification EER (``val_eer``).
* A candidate **fails at the first fold**, read in the order {2,5}, {0,3}, {1,4}, where its gap
  is below ``ref``'s by more than 0.005 or its from-SSL EER is above ``ref``'s by more than
  0.005; the folds after it are not judged (their figures are printed and reported). The three
  folds run side by side (one process each) only to fit the time; the verdict reads them in that
  order.
* A candidate **passes** if it fails no fold, its mean gap over the three folds is >= 0.011
  above ``ref``'s (the shortfall of the target: 0.05 - 0.039) and its mean from-SSL EER is not
  above ``ref``'s (a wider gap bought by a worse from-SSL embedding is no gain). Among both, the
  larger mean gap. P@1 and the spread are printed, not used to choose.
* If one passes, it is reported as a candidate for the lead: nothing goes into src or the
  configs (``configs/finetune.yaml``, ``bench_ssl.finetune``) and the test classes 6-9 are not
  scored this stop. If none passes, nothing changes.

Outcome of the twelfth rule (2026-12-07, stop 63, 21:59-22:42 UTC, load 7 at the start, 8.3 at
the end, its 15-minute average 10.2; the load in between was not logged): ``ref`` reproduced
stop 62's rows digit for digit. Both candidates fail at {2,5}: ``aug standard`` keeps ref's gap
(+0.0307) but its from-SSL EER is 0.1132 against ref's 0.1035; ``aug shift-flip``'s gap is
+0.0230 against +0.0307 (from-SSL EER 0.1083). Nothing adopted; the test classes not run. Every row: BENCHMARKS.md, "SSL fine-tuning: the labelled images augmented".

Run (three processes side by side, ``uptime`` before and after; then the verdict)::

    OMP_NUM_THREADS=1 nice python benchmarks/val_ftaug.py aug --folds 2,5 --json aug25.jsonl
    OMP_NUM_THREADS=1 nice python benchmarks/val_ftaug.py aug --folds 0,3 --json aug03.jsonl
    OMP_NUM_THREADS=1 nice python benchmarks/val_ftaug.py aug --folds 1,4 --json aug14.jsonl
    python benchmarks/val_ftaug.py aug --judge aug25.jsonl aug03.jsonl aug14.jsonl
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from siamkit import save_model  # noqa: E402
from siamkit.encode import encode  # noqa: E402
from ssl_val import fold_training_classes, held_out_images  # noqa: E402
from val_folds import fold_result, score  # noqa: E402
from val_ftjoin import (  # noqa: E402
    finetune_fold_sets,
    finetune_with_start,
    rule_main,
    same_weights,
    ssl_model,
)

# The rows' recipes: name -> the overrides on bench_ssl.finetune's (fixed by the rule).
RECIPES: dict[str, tuple[str, ...]] = {
    "ref": (),
    "aug standard": ("data.augmentation=standard",),
    "aug shift-flip": ("data.augmentation=shift-flip",),
}
CANDIDATES = ("aug standard", "aug shift-flip")


def recipe_sets(name: str, train_classes: Sequence[int]) -> list[str]:
    """The overrides of row ``name``'s fine-tune on a fold training ``train_classes``: stop 62's
    (:func:`val_ftjoin.finetune_fold_sets`: the fold's classes, all of them in every batch), then
    the recipe's own."""
    return [*finetune_fold_sets(train_classes), *RECIPES[name]]


def run_fold(args: argparse.Namespace, fold: list[int]) -> dict[str, Any]:
    train_classes = fold_training_classes(fold)
    vx, vy = held_out_images(fold, args.val_images)  # train split, the fold's classes only
    t0 = time.time()
    ssl_net, ssl_seconds = ssl_model(args, fold)
    rows = {"raw-pixels": score(F.normalize(vx.flatten(1).float() / 255.0, dim=1), vy)}
    rows["ssl start"] = score(encode(ssl_net, vx, device="cpu"), vy)
    with tempfile.TemporaryDirectory() as tmp:
        src = save_model(ssl_net, Path(tmp) / "model")
        for start_name, source in (("ssl", src), ("scratch", None)):
            for name in RECIPES:
                sets = recipe_sets(name, train_classes)
                start, tuned = finetune_with_start(args.seed, source, ssl_net, sets)
                if start_name == "ssl" and not same_weights(start, ssl_net):
                    raise RuntimeError("the from-SSL start does not hold the SSL model's weights")
                key = f"{name} from {start_name}"
                rows[key] = score(encode(tuned, vx, device="cpu"), vy)
                print(f"   {fold} {key}: {rows[key]}", flush=True)
    out = fold_result(fold, time.time() - t0, rows, [])
    out["ssl_seconds"] = ssl_seconds
    return out


def main() -> None:
    rule_main(__doc__, run_fold, CANDIDATES)


if __name__ == "__main__":
    main()
