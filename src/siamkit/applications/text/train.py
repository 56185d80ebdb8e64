"""``task: text``: fine-tune the twin transformer on pairs, triplets or (anchor, positive) pairs.

Progress bar, a checkpoint (atomic) at the end of each epoch or every ``checkpoint_every`` steps,
``--resume`` continuing from it with the same batches, autocast on CUDA (``train.amp``: bfloat16
where the GPU has it natively, else float16 with a ``GradScaler`` whose state the checkpoint keeps,
as the image path: :func:`~siamkit.training.step.mixed_precision`), optional gradient
checkpointing. It trains in one process on ``--device`` (``auto``: CUDA when available);
``torchrun`` is refused. Validation (a separate file or a seeded share of the training file)
gives the metrics and, for labelled pairs, the calibrated threshold saved with the model (the
summary and ``metrics.json`` state it as ``verification.min_similarity``, the cosine similarity a
pair must reach, as the text commands do).

Each epoch's end adds a row to the run's history (``OUT/history.json``): the epoch's mean
training loss and, with validation pairs and ``train.val_metric: auto``, the validation figures
(:func:`~siamkit.applications.text.validate.validate`'s: ROC AUC and EER for 0/1 labels,
Spearman and Pearson for graded scores), printed on the epoch's line as image runs print theirs;
each validation embeds the validation texts once (``train.val_metric: none`` validates at the
end alone). The checkpoint keeps the history and the current epoch's step losses, so a resumed
run's history is an uninterrupted one's. ``OUT/report.html`` (:func:`write_run_report`) draws
the curves and, for 0/1 labelled validation pairs, their ROC / DET, histograms and threshold.

``--init-from MODEL`` (:attr:`TaskOptions.init_from`) is the model to fine-tune, as ``model.path``
is (a config naming another one is refused); the checkpoint and the saved model record it, and a
``--resume`` without it continues from the checkpoint's (:func:`start_model`).

``--resume`` refuses a config other than the checkpoint's, naming the keys
(:func:`text_config_guard`): ``train.epochs`` too, since the warm-up and decay span all the steps,
and ``train.amp``; ``train.gradient_checkpointing`` and ``train.checkpoint_every`` may change.

The checkpoint holds what rebuilds the model besides its weights (the transformer's config, the
tokenizer files, a lexical tower's arrays: :func:`start_files`), so a resume does not read the
start model again, which may since have been moved or deleted; a checkpoint from before it held
them reads the start model, as it did.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable
from itertools import accumulate, chain
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from siamkit.applications.text.losses import (
    angle_loss,
    cosent_loss,
    cosine_mse_loss,
    matryoshka_loss,
    mnrl_loss,
    online_contrastive_loss,
    text_contrastive_loss,
    text_triplet_loss,
)
from siamkit.applications.text.model import TextSiameseNetwork, load_text_model
from siamkit.applications.text.pairs import NoDuplicatesBatchSampler, TextExamples, read_examples
from siamkit.applications.text.score_map import ScoreMap
from siamkit.applications.text.train_config import (
    TextTrainConfig,
    parse_config,
    unread_data_keys,
)
from siamkit.applications.text.validate import validate
from siamkit.atomic import atomic_write, same_file
from siamkit.progress import Progress
from siamkit.training.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from siamkit.training.config_guard import ConfigGuard
from siamkit.training.config_io import with_plugins, without_plugins
from siamkit.training.ddp import refuse_torchrun, resolve_device
from siamkit.training.preflight import accept_saved_config, resumed_init_from
from siamkit.training.resume_note import text_finished_line
from siamkit.training.step import autocast_for, backward_and_step, mixed_precision
from siamkit.training.tasks import TaskOptions, TaskSummary
from siamkit.training.trainer import deterministic_on_cpu

CHECKPOINT = "checkpoint.pt"
START = "start"  # the checkpoint's key of start_files


def batch_loss(model: TextSiameseNetwork, cfg: TextTrainConfig, ex: TextExamples) -> torch.Tensor:
    """The configured loss on one batch of examples (each distinct text embedded once per tower)."""
    cols = ex.texts
    if model.share_weights:
        uniq = sorted({t for c in cols for t in c})
        pos = {t: k for k, t in enumerate(uniq)}
        z = model.embed(uniq)  # (U, D)
        zs = [z[torch.tensor([pos[t] for t in c])] for c in cols]
    else:
        zs = [
            model.embed(list(c), role="query" if k == 0 else "document") for k, c in enumerate(cols)
        ]
    # the loss in float32 outside autocast, as the image path: under bf16 autocast the scaled
    # cosine logits (scale 20) would come out in steps of 0.125
    zs = [z.float() for z in zs]
    with torch.autocast(zs[0].device.type, enabled=False):
        return _loss(cfg, ex, zs)


def _loss(cfg: TextTrainConfig, ex: TextExamples, zs: list[torch.Tensor]) -> torch.Tensor:
    sizes = cfg.loss.matryoshka
    if not sizes:
        return _base_loss(cfg, ex, zs)
    dims, weights = [d for d, _ in sizes], [w for _, w in sizes]
    return matryoshka_loss(zs, lambda cut: _base_loss(cfg, ex, cut), dims, weights)


def _base_loss(cfg: TextTrainConfig, ex: TextExamples, zs: list[torch.Tensor]) -> torch.Tensor:
    name, scale, margin = cfg.loss.kind, cfg.loss.scale, cfg.loss.margin
    if name == "cosent":
        return cosent_loss(zs[0], zs[1], torch.tensor(ex.targets, device=zs[0].device), scale)
    if name == "angle":
        return angle_loss(zs[0], zs[1], torch.tensor(ex.targets, device=zs[0].device), scale)
    if name == "cosine_mse":
        return cosine_mse_loss(zs[0], zs[1], torch.tensor(ex.targets, device=zs[0].device))
    if name == "contrastive":
        same = torch.tensor(ex.targets, device=zs[0].device)
        return text_contrastive_loss(zs[0], zs[1], same, margin)
    if name == "online_contrastive":
        same = torch.tensor(ex.targets, device=zs[0].device)
        return online_contrastive_loss(zs[0], zs[1], same, margin)
    if name == "triplet":
        return text_triplet_loss(zs[0], zs[1], zs[2], margin)
    return mnrl_loss(zs[0], zs[1], scale, zs[2] if len(zs) > 2 else None)


MIN_SPLIT_EXAMPLES = 10
"""Fewest training examples ``data.val_fraction`` takes a validation share from."""


def _norm(text: str) -> str:
    """A text as the split compares texts: runs of whitespace as one space, none at the ends,
    case folded (a ticket typed "VPN fails" and "vpn fails" is one text to the model's
    uncased tokenizer, and the same ticket to its reader)."""
    return " ".join(text.casefold().split())


def _texts(ex: TextExamples) -> set[str]:
    """Every text of ``ex`` (each column: a triplet's negative too), whitespace normalised."""
    return {_norm(t) for column in ex.texts for t in column}


def text_groups(ex: TextExamples) -> list[list[int]]:
    """The examples that share a text, directly or through others, as groups of indices: the
    connected components of the graph whose nodes are the texts (as :func:`_norm` gives them,
    every column) and whose edges are the examples. Indices ascend within a group; groups come
    in the order of their first example.

    >>> text_groups(TextExamples("pairs", (("q", "r", "q"), ("x", "y", "z")), None))
    [[0, 2], [1]]
    """
    parent = list(range(len(ex)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}  # a text's first example
    for column in ex.texts:
        for i, text in enumerate(column):
            a, b = root(i), root(first.setdefault(_norm(text), i))
            parent[max(a, b)] = min(a, b)  # a root is its group's first example
    groups: dict[int, list[int]] = {}
    for i in range(len(ex)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _take_groups(
    groups: list[list[int]], n_val: int, seed: int, targets: tuple[float, ...] | None = None
) -> list[int]:
    """Validation indices: whole groups in a seeded order, each taken when it brings the count
    nearer ``n_val`` (and leaves training some); the smallest group when none does. Examples
    that share no text are one group each, so such a file splits as a plain seeded shuffle.
    With ``targets``, a side whose pairs all have one label (or score) gets a group holding
    another from the other side (:func:`_two_targets_each`)."""
    order = list(groups)
    random.Random(seed).shuffle(order)
    n = sum(map(len, groups))
    val: list[list[int]] = []
    count = 0
    for g in order:
        if abs(count + len(g) - n_val) < abs(count - n_val) and count + len(g) < n:
            val.append(g)
            count += len(g)
    if not val:
        val = [min(order, key=len)]
    taken = {id(g) for g in val}
    rest = [g for g in order if id(g) not in taken]
    return sorted(chain.from_iterable(_two_targets_each(val, rest, targets)))


def _two_targets_each(
    val: list[list[int]], train: list[list[int]], targets: tuple[float, ...] | None
) -> list[list[int]]:
    """The validation groups ``val`` (of example indices; ``train``: the others, both in the
    split's seeded order), made to hold two targets (labels, or scores) or more on each side
    where the file has them: when validation's pairs all have one target, the first training
    group holding another joins it, and when training's do, the last validation group holding
    another goes back, each only where the side it leaves keeps two. A share of 0/1 labelled
    pairs with no pair labelled 1 was refused for calibrating no threshold ("give data.val
    ..."), and training with none trained on negatives alone, when the file had both; a graded
    share of one score was refused too. Unchanged where no group can move so."""
    if targets is None or len(set(targets)) < 2:
        return val

    def kinds(side: list[list[int]]) -> Counter[float]:
        return Counter(targets[i] for g in side for i in g)

    def move(src: list[list[int]], dst: list[list[int]], order: list[list[int]]) -> None:
        have, left = kinds(dst), kinds(src)
        for g in order:
            if all(targets[i] in have for i in g):
                continue
            if len(left - Counter(targets[i] for i in g)) > 1:
                src.remove(g)
                dst.append(g)
                return

    val, train = list(val), list(train)
    if len(kinds(val)) < 2:
        move(train, val, list(train))
    if len(kinds(train)) < 2:
        move(val, train, val[::-1])
    return val


def _split(
    ex: TextExamples, cfg: TextTrainConfig
) -> tuple[TextExamples, TextExamples | None, list[str]]:
    """Training and validation examples, and the lines to log about them.

    ``data.val`` is read as given; a line counts its texts that training has too. Otherwise a
    seeded ``data.val_fraction`` of the examples is held out (none under
    ``MIN_SPLIT_EXAMPLES``) in whole groups of examples sharing a text (:func:`text_groups`),
    so that no text is on both sides: a ticket paired with many others would otherwise be
    validated on after training on it, and the early-stopping, the metrics and the calibrated
    threshold would be optimistic, as seen-class validation is for images. Texts are compared
    with runs of whitespace as one space and case folded (:func:`_norm`). A share whose pairs
    all have one label (or one score) takes one more group holding another, where the file has
    one, and training so too (:func:`_two_targets_each`). When one group holds
    more than ``1 - val_fraction`` of the examples (a file whose pairs all link up, e.g. every
    pair of a few documents), no such split gives validation its share: the split is the plain
    seeded one it was before, with a line saying that validation shares texts with training.
    That is a note, not a refusal: the run trains as it would, the user who cannot give a
    separate file still gets a model, and the line says what to do (give ``data.val``).
    """
    d = cfg.data
    if d.val:
        notes: list[str] = []
        val = read_examples(
            d.val,
            d.format,
            d.columns,
            _range(cfg),
            columns_key="data.columns",
            notes=notes,
            columns_of=f"data.train {d.train}",
        )
        seen = _texts(ex)
        val_texts = _texts(val)
        shared = len(val_texts & seen)
        if shared == len(val_texts):  # data.val is data.train, or a part of it
            notes.append(
                f"data.val {d.val} shares all {shared} of its texts with data.train {d.train}: "
                "its metrics and calibrated threshold are measured on texts the model trained "
                "on (optimistic); give data.val pairs of other texts, or leave it out to "
                "validate on a share of data.train (data.val_fraction) that keeps them apart"
            )
        elif shared:
            notes.append(
                f"data.val {d.val} shares {shared} of its {len(val_texts)} texts with data.train "
                f"{d.train}: its metrics and calibrated threshold are measured partly on texts "
                "the model trained on (optimistic); leave them out of one of the files"
            )
        return ex, val, notes
    if d.val_fraction == 0 or len(ex) < MIN_SPLIT_EXAMPLES:
        return ex, None, []
    n_val = max(1, round(len(ex) * d.val_fraction))
    groups = text_groups(ex)
    largest = max(map(len, groups))
    if largest > (1 - d.val_fraction) * len(ex):
        order = list(range(len(ex)))
        random.Random(cfg.train.seed).shuffle(order)
        ones = [[i] for i in order]
        picked = sorted(
            i for g in _two_targets_each(ones[:n_val], ones[n_val:], ex.targets) for i in g
        )
        kept = sorted(set(order) - set(picked))
        train, val = ex.subset(kept), ex.subset(picked)
        n_val = len(val)
        return (
            train,
            val,
            [
                f"data.val_fraction {d.val_fraction}: {largest} of the {len(ex)} examples of "
                f"{d.train} are linked by shared texts, more than {1 - d.val_fraction:g} of "
                f"them, so validation is a plain random {n_val} and shares "
                f"{len(_texts(val) & _texts(train))} texts with training: its metrics and "
                "calibrated threshold are optimistic; give data.val, pairs of texts that "
                "training does not have"
            ],
        )
    held = _take_groups(groups, n_val, cfg.train.seed, ex.targets)
    kept = sorted(set(range(len(ex))) - set(held))
    train, val = ex.subset(kept), ex.subset(held)
    note = (
        f"validation: {len(val)} of the {len(ex)} examples of {d.train} (data.val_fraction "
        f"{d.val_fraction}) with {len(_texts(val))} of the file's {len(_texts(ex))} texts; "
        "examples that share a text are kept on one side, so no text is on both sides"
    )
    return train, val, [note]


def _graded(*sets: TextExamples | None) -> bool:
    """Whether pairs carry graded scores: some target, in training or validation, is neither 0
    nor 1. Decided on all of them, not on a validation split that may hold only the ends."""
    return any(t not in (0.0, 1.0) for ex in sets if ex is not None for t in ex.targets or ())


MIN_CORRELATION_PAIRS = 3
"""Fewest graded validation pairs whose Pearson/Spearman says anything: any two points lie on
a line (and two ranks either agree or not), so two pairs give +1 or -1 whatever the model does;
from three on the correlation can take other values."""


def _check_val(val: TextExamples | None, cfg: TextTrainConfig, examples: TextExamples) -> None:
    """Refuse, before training, validation pairs that cannot give their metrics: Pearson and
    Spearman need two different scores and at least ``MIN_CORRELATION_PAIRS`` pairs (two
    points always correlate at +1 or -1, whatever the model), the threshold needs pairs
    labelled 0 and 1."""
    if val is None or val.format != "pairs" or val.targets is None:
        return
    where = _val_source(cfg, examples)
    fix = "give data.val, raise data.val_fraction, or set it to 0 to skip validation"
    present = sorted(set(val.targets))
    if _graded(examples, val):
        if len(present) < 2:
            raise ValueError(
                f"the validation pairs ({where}) are {len(val)} with one score; Pearson and "
                f"Spearman need at least two different scores: {fix}"
            )
        if len(val) < MIN_CORRELATION_PAIRS:
            raise ValueError(
                f"the validation pairs ({where}) are {len(val)}; Pearson and Spearman of "
                f"fewer than {MIN_CORRELATION_PAIRS} pairs are always +1 or -1: {fix}"
            )
    elif present != [0.0, 1.0]:
        raise ValueError(
            f"the validation pairs ({where}) are {len(val)}, all labelled {int(present[0])}; "
            f"the threshold is calibrated on pairs labelled 0 and 1: {fix}"
        )


def _val_source(cfg: TextTrainConfig, examples: TextExamples) -> str:
    """Where the validation pairs come from, as the config says it."""
    d = cfg.data
    if d.val:
        return f"data.val {d.val}"
    return f"data.val_fraction {d.val_fraction} of {len(examples)} examples"


def validation_skipped(cfg: TextTrainConfig, examples: TextExamples) -> str | None:
    """A note when ``data.val_fraction`` asks for validation but the training file has too few
    examples to take a share from: the run then reports no validation metrics (and, for 0/1
    labels, calibrates no threshold), where nothing said why."""
    d = cfg.data
    if d.val or d.val_fraction == 0 or len(examples) >= MIN_SPLIT_EXAMPLES:
        return None
    threshold = (
        " and calibrates no threshold"
        if examples.format == "pairs" and examples.targets is not None and not _graded(examples)
        else ""
    )
    return (
        f"data.val_fraction {d.val_fraction} is not taken from {d.train}'s {len(examples)} "
        f"examples (fewer than {MIN_SPLIT_EXAMPLES}): this run reports no validation metrics"
        f"{threshold}; give data.val, or more examples"
    )


def _labels_under_range(
    cfg: TextTrainConfig, *sets: TextExamples | None
) -> tuple[float, float] | None:
    """``data.score_range`` when it is wider than [0, 1] and every pair of ``sets`` is labelled
    0 or 1 in the file (the example config's [0, 5] left in place for a 0/1 file), else None."""
    r = _range(cfg)
    if r is None or cfg.data.format != "pairs" or r == (0.0, 1.0):
        return None
    lo, hi = r
    raw = {lo + t * (hi - lo) for ex in sets if ex is not None for t in ex.targets or ()}
    if not raw or any(min(abs(x), abs(x - 1)) > 1e-6 for x in raw):
        return None
    return r


def labels_read_as_scores(cfg: TextTrainConfig, *sets: TextExamples | None) -> str | None:
    """A note when every training pair is labelled 0 or 1 but ``data.score_range`` is wider
    (the example config's [0, 5] left in place): the labels then train as the graded scores 0
    and 1 of 5, so the model gets a score map on that scale and no calibrated threshold, without
    a word. ``sets``: the training file's pairs, then the validation pairs; a data.val of other
    scores (the graded pairs a 0/1 training file was meant to join) was let pass silently, and
    is told to be written on the scale, since data.score_range: null would refuse it."""
    train, val = sets[0], sets[1] if len(sets) > 1 else None
    r = _labels_under_range(cfg, train)
    if r is None:
        return None
    column = cfg.data.columns.get("label", "label")
    graded_val = cfg.data.val and val is not None and _labels_under_range(cfg, val) is None
    fix = (
        f"write them as scores on that scale (a duplicate as {r[1]:g}), as data.val "
        f"{cfg.data.val} has its pairs"
        if graded_val
        else "for 0/1 labels set data.score_range: null"
    )
    return (
        f"every pair of {cfg.data.train} is labelled 0 or 1 (column {column}), but "
        f"data.score_range is [{r[0]:g}, {r[1]:g}]: they train as graded scores on that scale "
        f"(a score map, no calibrated threshold); {fix}"
    )


def conflicting_labels(cfg: TextTrainConfig, ex: TextExamples) -> str | None:
    """A note when the same pair of texts (up to case and spacing; either order where the twins
    share weights) is labelled both 0 and 1 in the training file, as two agents who disagreed
    leave it: training pulls the pair together and pushes it apart at once, without a word.
    Graded scores are left alone (raters differ on a pair's score as a matter of course)."""
    if ex.format != "pairs" or ex.targets is None or _graded(ex):
        return None
    labels: dict[tuple[str, ...], set[float]] = {}
    first: dict[tuple[str, ...], tuple[str, str]] = {}
    for a, b, y in zip(ex.texts[0], ex.texts[1], ex.targets):
        key: tuple[str, ...] = (_norm(a), _norm(b))
        if cfg.model.share_weights:
            key = tuple(sorted(key))
        labels.setdefault(key, set()).add(y)
        first.setdefault(key, (a, b))
    both = [key for key, ys in labels.items() if len(ys) > 1]
    if not both:
        return None
    a, b = (t if len(t) <= 40 else t[:39] + "\u2026" for t in first[both[0]])
    n = len(both)
    return (
        f"{n} pair{'s' if n > 1 else ''} of texts in {cfg.data.train} {'are' if n > 1 else 'is'} "
        f"labelled both 0 and 1 (the first: {a!r} and {b!r}, up to case and spacing): training "
        "pulls such a pair together and pushes it apart at once; keep one label for each pair"
    )


def history_from_here_line(ckpt: Path, epoch: int, step: int, epochs: int) -> str:
    """The line of a resume from checkpoint ``ckpt``, made before text runs kept a per-epoch
    history, at ``epoch`` (from 0), ``step``: ``history.json`` and the report's curves hold
    the epochs from there on only (none of a finished run), and a resumed epoch's loss is the
    mean of its steps from ``step`` on; they did so without a word."""
    if epoch >= epochs:
        held = "none of its epochs"
    else:
        held = f"epoch {epoch + 1} on" if epoch + 1 < epochs else f"epoch {epoch + 1} alone"
        held += (
            f", epoch {epoch + 1}'s loss the mean of its steps from step {step + 1} on"
            if step
            else ""
        )
    return (
        f"{ckpt} was made before text runs kept a per-epoch history: history.json and the "
        f"report's curves hold {held}"
    )


def _check_train(train: TextExamples, cfg: TextTrainConfig) -> None:
    """Refuse, before training, pairs a ranking loss learns nothing from: CoSENT and AnglE
    compare pairs of different scores, so training pairs that all score the same give a loss of
    exactly 0 and the run would save the start model unchanged. Contrastive and online
    contrastive take pairs labelled 0 or 1 (sentence-transformers' online contrastive ignores the
    others, with a warning; contrastive would read a score of 0.3 as 30% "same", an objective
    of neither kind)."""
    if train.targets is None:
        return
    if cfg.loss.kind in ("contrastive", "online_contrastive"):
        _check_labels(train, cfg, "training pairs")
        return
    if cfg.loss.kind not in ("cosent", "angle"):
        return
    present = sorted(set(train.targets))
    if len(present) < 2:
        r = _range(cfg)  # the targets are scaled to [0, 1]: say the score as the file has it
        shown = present[0] if r is None else r[0] + present[0] * (r[1] - r[0])
        raise ValueError(
            f"loss {cfg.loss.kind} learns from pairs with different scores, and the "
            f"{len(train)} training pair(s) all score {shown:g}: add pairs of other scores, or use loss "
            "contrastive (0/1 labels), or mnrl with data.format anchor_positive (similar pairs)"
        )


def _check_batches(train: TextExamples, cfg: TextTrainConfig, plan: EpochBatches) -> None:
    """Refuse, before training, training examples that make no batch of two: one example (a
    batch of one, which ``train.batch_size`` of at least 2 refuses), or for loss mnrl examples
    every two of which share a text (its batches never hold a text twice, and a batch of one is
    left out), where the run trained 0 steps and saved the start model as the fine-tuned one.
    ``plan``: the run's batches, whose first epoch is looked at (not drawn again)."""
    if cfg.loss.kind == "mnrl" and len(train) > 1 and not plan.counts[0]:
        raise ValueError(
            f"loss mnrl compares each example with the others in its batch, and "
            f"every two of the {len(train)} training examples of {cfg.data.train} share a text, "
            "which a batch never holds twice (the other examples' texts are its negatives): no "
            "batch can be made; add examples of other texts"
        )
    if len(train) < 2:
        raise ValueError(
            f"{cfg.data.train} gives {len(train)} training example; fine-tuning compares "
            "examples in batches of at least 2: add examples"
        )


def mnrl_left_out(train: TextExamples, cfg: TextTrainConfig, plan: EpochBatches) -> str | None:
    """A note when loss mnrl's first epoch leaves training examples out: its batches never hold
    a text twice, so when many examples share one text (a common ticket asked many ways, each
    way paired with it) the batches run out of other examples, and what is left makes batches
    of one, which teach nothing and are dropped: more than half of such a file can go untrained
    without a word. Said when a text is in more examples than there are batches, so that some
    must be left out whatever the order. ``plan``: the run's batches, whose first epoch is
    counted (not drawn again)."""
    if cfg.loss.kind != "mnrl":
        return None
    count = plan.counts[0]
    left = len(train) - sum(len(plan.batch(0, step)) for step in range(count))
    shared = Counter(t for row in zip(*train.texts) for t in set(row))
    text, k = shared.most_common(1)[0]
    if left == 0 or k <= count:  # none, or a chance collision another epoch may not have
        return None
    shown = text if len(text) <= 40 else text[:39] + "\u2026"
    return (
        f"loss mnrl leaves {left} of the {len(train)} training examples out of the first "
        f"epoch: a batch never holds a text twice, and {k} examples share {shown!r}; pair "
        "the texts that share one with each other rather than each with it"
    )


def _check_label_range(cfg: TextTrainConfig, *sets: TextExamples | None) -> None:
    """Under loss contrastive or online_contrastive, refuse pairs labelled 0 and 1 in the files
    that a ``data.score_range`` wider than [0, 1] (the example config's [0, 5] left in place)
    made scores, 1 becoming 0.2: :func:`_check_labels` would say to label them 0/1, which they
    are, or a validation share holding only 0s would be refused for its one score first."""
    if cfg.loss.kind not in ("contrastive", "online_contrastive"):
        return
    r = _labels_under_range(cfg, *sets)
    if r is None or all(t == 0.0 for ex in sets if ex is not None for t in ex.targets or ()):
        return
    files = cfg.data.train if not cfg.data.val else f"{cfg.data.train} and {cfg.data.val}"
    raise ValueError(
        f"loss {cfg.loss.kind} trains on pairs labelled 0 or 1, and data.score_range "
        f"[{r[0]:g}, {r[1]:g}] reads the labels 0 and 1 of {files} as scores on that scale: "
        "set data.score_range: null for 0/1 labels"
    )


def _check_labels(ex: TextExamples | None, cfg: TextTrainConfig, what: str) -> None:
    """Under loss contrastive or online_contrastive, refuse pairs ``ex`` (``what`` names them)
    whose targets are not 0 or 1: training would read a score of 0.3 as 30% "same", and
    validation would score such pairs by correlation where the loss learns a 0/1 decision."""
    if (
        ex is None
        or ex.targets is None
        or cfg.loss.kind not in ("contrastive", "online_contrastive")
    ):
        return
    graded = sum(t not in (0.0, 1.0) for t in ex.targets)
    if not graded:
        return
    r = _range(cfg)
    if r is not None and r != (0.0, 1.0):  # a label 1 is a score of 0.2 on [0, 5]: say so
        raise ValueError(
            f"loss {cfg.loss.kind} trains on pairs labelled 0 or 1, and {graded} of the "
            f"{len(ex)} {what} have other scores on data.score_range [{r[0]:g}, {r[1]:g}] "
            "(only its ends are labels): for 0/1 labels set data.score_range: null, or use "
            "loss cosent or angle for graded scores"
        )
    raise ValueError(
        f"loss {cfg.loss.kind} trains on pairs labelled 0 or 1, and {graded} of the "
        f"{len(ex)} {what} have other scores: label them 0/1, or use loss cosent or angle "
        "for graded scores"
    )


def _check_matryoshka_model(
    cfg: TextTrainConfig, model: TextSiameseNetwork, log: Callable[[str], object]
) -> None:
    """Refuse, before training, Matryoshka sizes the model cannot give: one past its
    transformer's embedding size, or any on a model joined to a lexical tower (its embedding
    ends with the tower's dimensions, which a truncation would cut off); say when the full size
    is not among them."""
    dims = [d for d, _ in cfg.loss.matryoshka]
    if not dims:
        return
    if model.lexical is not None:
        raise ValueError(
            f"loss matryoshka trains the transformer's embedding sizes, and {cfg.model.path} is "
            "joined to a lexical tower: fine-tune the transformer alone, then join the tower "
            "to the result with siamkit text lexical"
        )
    full = model.encoder.num_features
    if max(dims) > full:
        raise ValueError(
            f"loss.dims {dims} go past the model's {full}-dimensional embedding: give sizes "
            f"of at most {full}"
        )
    if full not in dims:
        log(
            f"loss.dims {dims} leave out the model's full size {full}: its {full}-dimensional "
            f"embedding is not trained as such; add {full} to loss.dims to use it"
        )


def _range(cfg: TextTrainConfig) -> tuple[float, float] | None:
    sr = cfg.data.score_range
    return None if sr is None else (float(sr[0]), float(sr[1]))


def _batches(ex: TextExamples, cfg: TextTrainConfig, epoch: int) -> list[list[int]]:
    seed = cfg.train.seed * 1000 + epoch
    if cfg.loss.kind == "mnrl":
        rows = list(zip(*ex.texts))
        sampler = NoDuplicatesBatchSampler(rows, cfg.train.batch_size, seed=seed)
        return [b for b in sampler if len(b) > 1]
    order = list(range(len(ex)))
    random.Random(seed).shuffle(order)
    b = cfg.train.batch_size
    return [order[s : s + b] for s in range(0, len(order), b)]


class EpochBatches:
    """Every epoch's batches (:func:`_batches`), drawn once before training: the steps the run
    takes, which the learning-rate schedule, ``train.steps``, the progress bar and a resume's
    position count, and the batches the loop trains on (not drawn again).

    Under loss mnrl the epochs differ in length: a batch never holds a text twice, and what each
    epoch's seeded order leaves over makes batches of one, which are dropped, so an epoch can
    make 5 batches and the next 6. Counting the first epoch ``train.epochs`` times ended the
    schedule early (the last steps ran at a learning rate of 0) or late. Each epoch's indices are
    kept in one flat array (8 bytes an example), so that holding them all costs little.
    """

    def __init__(self, ex: TextExamples, cfg: TextTrainConfig) -> None:
        self._flat: list[array[int]] = []  # per epoch: its batches' example indices in turn
        self._ends: list[array[int]] = []  # per epoch: where each batch ends in its flat array
        for epoch in range(cfg.train.epochs):
            batches = _batches(ex, cfg, epoch)
            self._flat.append(array("q", chain.from_iterable(batches)))
            self._ends.append(array("q", accumulate(map(len, batches))))

    @property
    def counts(self) -> list[int]:
        """Each epoch's number of batches, i.e. of steps."""
        return [len(ends) for ends in self._ends]

    def batch(self, epoch: int, step: int) -> list[int]:
        """The example indices of batch ``step`` (from 0) of ``epoch`` (from 0)."""
        ends = self._ends[epoch]
        return self._flat[epoch][ends[step - 1] if step else 0 : ends[step]].tolist()


def fit_score_map(
    model: TextSiameseNetwork, ex: TextExamples, score_range: tuple[float, float] | None
) -> ScoreMap | None:
    """For pairs with graded scores (a ``score_range``): the monotone map from the trained model's
    cosine to the score, fitted on the TRAINING pairs ``ex`` only; None for other data."""
    if ex.format != "pairs" or ex.targets is None or score_range is None or len(ex) < 2:
        return None
    return ScoreMap.fit(pair_cosines(model, ex), ex.targets).rescaled(*score_range)


CURVE_NAMES = {
    "val_roc_auc": "validation ROC AUC",
    "val_eer": "validation EER",
    "val_pearson": "validation Pearson",
    "val_spearman": "validation Spearman",
    "val_precision_at_1": "validation P@1",
    "val_triplet_accuracy": "validation triplet accuracy",
}
"""The report's labels of a text run's history keys."""


def _history_key(metric: str) -> str:
    """A :func:`~siamkit.applications.text.validate.validate` key as a history key:
    ``verification.roc_auc`` -> ``val_roc_auc``, ``triplet.accuracy`` ->
    ``val_triplet_accuracy``."""
    section, _, name = metric.partition(".")
    return f"val_{section}_{name}" if section == "triplet" else f"val_{name}"


def epoch_row(epoch: int, losses: list[float], figures: dict[str, Any] | None) -> dict[str, Any]:
    """One epoch of a text run's history: ``epoch`` (from 1), the mean of its step ``losses``
    (None when it took none here: resumed from a checkpoint from before they were kept) and
    the validation ``figures`` (:func:`validate`'s, as :func:`_history_key` names them; its
    threshold is left out, which the end of the run calibrates)."""
    row: dict[str, Any] = {"epoch": epoch, "loss": sum(losses) / len(losses) if losses else None}
    for key, value in (figures or {}).items():
        if key != "verification.threshold":
            row[_history_key(key)] = value
    return row


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """The epoch's line, as image runs print it: ``epoch 2/3: loss 0.1234, val roc_auc
    0.9100, eer 0.1200``."""
    loss = "-" if row["loss"] is None else f"{row['loss']:.4f}"
    line = f"epoch {row['epoch']}/{epochs}: loss {loss}"
    figures = [f"{k[4:]} {v:.4f}" for k, v in row.items() if k.startswith("val_")]
    return f"{line}, val {', '.join(figures)}" if figures else line


def pair_cosines(model: TextSiameseNetwork, ex: TextExamples) -> np.ndarray:
    """The cosine of each pair of ``ex`` (a by the query tower, b by the document tower), each
    distinct text embedded once."""
    model.eval()
    z = []
    for col, role in ((ex.texts[0], "query"), (ex.texts[1], "document")):
        uniq = sorted(set(col))
        pos = {t: k for k, t in enumerate(uniq)}
        with torch.inference_mode():
            e = model.embed(uniq, role=role).float().cpu().numpy()
        z.append(e[[pos[t] for t in col]])
    return np.asarray((z[0] * z[1]).sum(1))


def write_run_report(
    path: Path,
    model: TextSiameseNetwork,
    val: TextExamples | None,
    graded: bool,
    history: list[dict[str, Any]],
    metrics: dict[str, Any],
    threshold: float | None = None,
) -> Path | None:
    """``OUT/report.html`` of a text run (:func:`~siamkit.evaluation.report.render_verification_html`):
    the training curves (``history``: the loss and the validation figures per epoch) and, for
    validation pairs labelled 0/1, their verification parts (ROC / DET, the cosine-distance
    histograms, the calibrated threshold and its rates on them). None (nothing written) when
    the run has neither: no epoch recorded and no labelled validation pairs. Embeds the
    validation texts once. ``threshold``: the calibrated one, a cosine distance."""
    from siamkit.evaluation import EvaluationReport
    from siamkit.evaluation.report import write_verification_report
    from siamkit.evaluation.verification import verification_report

    labelled = val is not None and val.format == "pairs" and val.targets is not None and not graded
    if not history and not labelled:
        return None
    ver, calibration, data, note = None, None, "no validation pairs", ""
    if val is not None:
        data = f"{len(val):,} validation {'pairs' if val.format == 'pairs' else 'examples'}"
    if labelled:
        assert val is not None and val.targets is not None
        d = 1 - pair_cosines(model, val)  # the cosine distance the threshold is kept in
        same = np.asarray(val.targets) == 1
        ver = verification_report(d[same], d[~same])
        data += f" ({int(same.sum()):,} same / {int((~same).sum()):,} different)"
        if threshold is not None:
            t = float(threshold)
            tar, far = float(np.mean(d[same] <= t)), float(np.mean(d[~same] <= t))
            calibration = {
                "threshold": t,
                "test": {"tar": tar, "far": far, "balanced_accuracy": (tar + 1 - far) / 2},
            }
            note = (
                f"The threshold, a cosine distance of {t:.4f}, is a similarity of at least "
                f"{1 - t:.4f} (verification.min_similarity)."
            )
    report = EvaluationReport(ver, {}, None, "cosine", 0 if val is None else len(val), 0)
    return write_verification_report(
        path,
        report,
        title="siamkit text training report",
        calibration=calibration,
        data=data,
        note=note,
        metrics=metrics,
        history=history or None,
        curve_names=CURVE_NAMES,
        trained_on="these",  # the threshold was calibrated on these validation pairs
    )


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """The shared atomic :func:`~siamkit.training.checkpoint.save_checkpoint` (tests interrupt
    the loop here)."""
    save_checkpoint(state, path)


def start_model(
    cfg: TextTrainConfig, init_from: str | None, resume: bool = False, saved: Any = None
) -> tuple[TextTrainConfig, str | None]:
    """``cfg`` with ``model.path`` set to the model ``--init-from`` names (``init_from``; a
    ``model.path`` naming another one is refused), and the ``init_from`` the run records. On
    ``resume`` (``saved``: the config the checkpoint recorded) ``init_from`` may be left out,
    and the checkpoint's is used; another one is refused
    (:func:`~siamkit.training.preflight.resumed_init_from`). A resumed run rebuilds the model
    from its checkpoint (:func:`start_files`); only a checkpoint from before it held what that
    needs reads the start model again, for its architecture and tokenizer.
    """
    path = cfg.model.path
    _refuse_two_models(path, init_from)
    if resume:
        named = init_from is not None and path is not None  # (the same model: refused otherwise)
        init_from = resumed_init_from(saved, None if named else init_from)
        _refuse_two_models(path, init_from)  # the checkpoint's
    if init_from is None:
        return cfg, None
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, path=init_from)), init_from


def _refuse_two_models(path: str | None, init_from: str | None) -> None:
    if path is not None and init_from is not None and not same_file(path, init_from):
        raise ValueError(
            f"--init-from {init_from} and model.path {path} name different models to start "
            "from: give one of them"
        )


def _recorded(cfg: TextTrainConfig, init_from: str | None) -> dict[str, Any]:
    """The config the checkpoint records, with ``model.init_from`` (what a resume checks)."""
    doc = dataclasses.asdict(cfg)
    doc["model"]["init_from"] = init_from
    return doc


_FREE_ON_RESUME = ("gradient_checkpointing", "checkpoint_every")


def _read_saved_config(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's text config as ``now``'s shape: a key added since takes its default; a
    ``model.path`` naming the same folder otherwise is ``now``'s (:func:`start_model` takes it as
    the same model); with a validation file (``data.val``) in both, ``data.val_fraction`` (unused
    then) is ``now``'s, and under ``train.val_metric: none`` the file too, which only the
    evaluation after training reads then (validated each epoch, history.json holds its figures,
    and another file was taken without a word, its figures joined to the first's); and
    ``train.gradient_checkpointing`` and ``train.checkpoint_every`` are ``now``'s: they change
    memory use and how often the run is saved, not its result (turning gradient checkpointing
    on is the usual fix after running out of GPU memory). Sections and keys the config does
    not know are kept, to be named."""
    defaults = _recorded(TextTrainConfig(), None)
    out = {
        name: {**defaults[name], **section}
        if name in defaults and isinstance(section, dict)
        else section
        for name, section in saved.items()
    }
    model, data, path = out.get("model"), out.get("data"), now["model"]["path"]
    if isinstance(model, dict) and isinstance(model["path"], str) and path is not None:
        out["model"] = {
            **model,
            "path": path if same_file(model["path"], path) else model["path"],
        }
    if isinstance(data, dict) and data["val"] is not None and now["data"]["val"] is not None:
        # validated each epoch (train.val_metric auto), history.json holds the file's figures:
        # another file would join a second file's to them, so it is compared as the rest
        free = (
            ("val", "val_fraction") if now["train"]["val_metric"] == "none" else ("val_fraction",)
        )
        out["data"] = {**data, **{k: now["data"][k] for k in free}}
    if isinstance(train := out.get("train"), dict):  # neither changes the weights it gives
        out["train"] = {**train, **{k: now["train"][k] for k in _FREE_ON_RESUME}}
    return out


def text_config_guard(cfg: TextTrainConfig, init_from: str | None) -> ConfigGuard:
    """The shared :class:`~siamkit.training.config_guard.ConfigGuard` of a text run of ``cfg``
    started from ``init_from`` (as :func:`start_model` gives them): the checkpoint records the
    config; a resume with another one is refused, naming the keys. ``train.epochs`` may not
    change (the learning rate warms up and decays over all the run's steps, so they fix the
    schedule's length); gradient checkpointing, ``train.checkpoint_every`` and, validated at
    the end alone, a separate validation file may (:func:`_read_saved_config`)."""
    return ConfigGuard(
        _recorded(cfg, init_from), read=_read_saved_config, schedule_spans_epochs=True
    )


def _load_start(path: str | None, init_from: str | None) -> TextSiameseNetwork:
    try:
        return load_text_model(path)
    except TypeError as err:  # an image model, a tracker, ...
        if init_from is None:
            raise
        raise ValueError(
            f"--init-from {err}: a text run starts from a siamkit text model or a local Hugging "
            "Face folder"
        ) from None


def start_files(model: TextSiameseNetwork) -> dict[str, Any]:
    """What rebuilds ``model`` but its weights, for the checkpoint: its bundle config (the
    transformer's config, the windows, the towers) and the files a saved bundle keeps beside the
    weights (the tokenizer, a lexical tower's arrays), as bytes by relative path."""
    with tempfile.TemporaryDirectory(prefix="siamkit-text-") as tmp:
        model.save_extra_files(Path(tmp))
        files = {
            p.relative_to(tmp).as_posix(): p.read_bytes()
            for p in sorted(Path(tmp).rglob("*"))
            if p.is_file()
        }
    return {"config": model.config(), "files": files}


def _rebuild(start: dict[str, Any], folder: Path) -> TextSiameseNetwork:
    """The model :func:`start_files` described (weights as initialised), its files written into
    ``folder``, which must outlive the run (the tokenizer may read them again when saved)."""
    for name, data in start["files"].items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return TextSiameseNetwork.from_bundle(start["config"], folder)


def _setup(
    cfg: TextTrainConfig,
    device: torch.device,
    init_from: str | None = None,
    start: tuple[dict[str, Any], Path] | None = None,
) -> TextSiameseNetwork:
    """The model to train: the start model (``model.path``), or on resume the one the
    checkpoint describes (``start``: its :func:`start_files` and a folder for them)."""
    m = cfg.model
    model = _load_start(m.path, init_from) if start is None else _rebuild(*start)
    if (model.encoder.max_length, model.encoder.overlap) != (m.max_length, m.overlap):
        model.encoder.set_window(m.max_length, m.overlap)
    if not m.share_weights and model.share_weights:
        lexical = model.lexical
        model = TextSiameseNetwork(model.encoder, share_weights=False, distance=model.distance_name)
        model.lexical = lexical
    if cfg.train.gradient_checkpointing:
        for enc in (model.encoder, model.doc_encoder):
            if enc is not None:
                _checkpoint_activations(enc.transformer)
    return model.to(device)


def _checkpoint_activations(transformer: Any) -> None:
    """Turn on gradient (activation) checkpointing: ``activation_checkpointing_enable`` where
    transformers has it (``gradient_checkpointing_enable`` is its deprecated alias there, which
    warns), the older name before it."""
    enable = getattr(transformer, "activation_checkpointing_enable", None)
    (enable or transformer.gradient_checkpointing_enable)()


def run(
    config: dict[str, Any], out_dir: str | os.PathLike[str], options: TaskOptions
) -> TaskSummary:
    """Fine-tune as ``config`` says; writes ``out_dir/config.yaml`` (the resolved config, before
    training), ``model``, ``metrics.json``, the checkpoint. ``out_dir``: a str or a path."""
    with tempfile.TemporaryDirectory(prefix="siamkit-text-") as tmp:
        return _run(config, Path(out_dir), options, Path(tmp))


def _run(config: dict[str, Any], out_dir: Path, options: TaskOptions, tmp: Path) -> TaskSummary:
    config, own_plugins = without_plugins(config)
    cfg = parse_config(config, options.overrides)
    ckpt_path = out_dir / CHECKPOINT
    if options.resume and not ckpt_path.is_file():
        raise ValueError(f"--resume: {ckpt_path} does not exist")
    refuse_torchrun("text")
    device = resolve_device(options.device)
    state = load_checkpoint(ckpt_path, map_location=device) if options.resume else {}
    cfg, init_from = start_model(cfg, options.init_from, options.resume, state.get("config"))
    guard = text_config_guard(cfg, init_from)
    if options.resume:  # refused before anything is written; an older checkpoint has no config
        accept_saved_config(state, guard)
    data_notes: list[str] = []  # whole 0s and 1s among graded scores
    examples = read_examples(
        cfg.data.train,
        cfg.data.format,
        cfg.data.columns,
        _range(cfg),
        columns_key="data.columns",
        notes=data_notes,
    )
    train_ex, val_ex, split_notes = _split(examples, cfg)
    _check_label_range(cfg, examples, val_ex)
    _check_labels(val_ex, cfg, f"validation pairs ({_val_source(cfg, examples)})")
    _check_val(val_ex, cfg, examples)
    _check_train(train_ex, cfg)
    plan = EpochBatches(train_ex, cfg)  # every epoch's batches, drawn once
    _check_batches(train_ex, cfg, plan)
    log = options.log or print
    for line in [*data_notes, *split_notes]:
        log(line)
    if note := unread_data_keys(cfg):
        log(note)
    if note := labels_read_as_scores(cfg, examples, val_ex):
        log(note)
    if note := conflicting_labels(cfg, examples):
        log(note)
    if note := validation_skipped(cfg, examples):
        log(note)
    if note := mnrl_left_out(train_ex, cfg, plan):
        log(note)
    torch.manual_seed(cfg.train.seed)
    saved_start = state.get(START)  # absent in a checkpoint from before it was saved
    model = _setup(cfg, device, init_from, None if saved_start is None else (saved_start, tmp))
    rebuild = saved_start or start_files(model)
    if init_from is not None and not options.resume:
        log(f"starting from the weights of {init_from}")
    if model.threshold is not None:  # calibrated for the start model's weights, not these
        log(
            f"the threshold of {cfg.model.path} ({model.threshold:.4g}) is not kept: the "
            "fine-tuned model has only one this run calibrates (on 0/1 labelled validation pairs)"
        )
        model.threshold = None
    _check_matryoshka_model(cfg, model, log)
    if model.matryoshka_dims and not cfg.loss.matryoshka:
        log(
            f"the embedding sizes {model.matryoshka_dims} that {cfg.model.path} was trained for "
            "are not kept: this run trains the full size alone (loss matryoshka keeps them)"
        )
    model.matryoshka_dims = [d for d, _ in cfg.loss.matryoshka] or None
    total = sum(plan.counts)  # every epoch's own count: under loss mnrl they may differ
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    warm = max(1, int(cfg.train.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    amp, scaler = mixed_precision(cfg.train.amp, device)  # the image path's rule
    start_epoch, start_step = 0, 0
    # one row per epoch ended (a checkpoint from before they were kept: from this session on)
    history: list[dict[str, Any]] = list(state.get("history") or [])
    if options.resume:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        # absent in a checkpoint from before it was saved, None in a bfloat16 or CPU run's
        if scaler is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
        start_epoch, start_step = state["epoch"], state["step"]
        if isinstance(state["rng"], dict):  # every generator, the GPU's (dropout there) too
            set_rng_state(state["rng"])
        else:  # a checkpoint from before: the CPU generator alone
            torch.set_rng_state(state["rng"].cpu())  # loaded onto the device with the rest
        if start_epoch >= cfg.train.epochs:
            # train.epochs may not change on resume: the advice is a new run from the model
            log(
                text_finished_line(
                    ckpt_path, start_epoch, cfg.train.epochs, out_dir, cfg.model.path
                )
            )
        else:
            log(f"resumed from {ckpt_path} at epoch {start_epoch + 1}, step {start_step}")
        if "history" not in state and (start_epoch or start_step):
            log(history_from_here_line(ckpt_path, start_epoch, start_step, cfg.train.epochs))
    out_dir.mkdir(parents=True, exist_ok=True)
    # the resolved config, as the other tasks write it (model.path: the model fine-tuned, the
    # --init-from one too), so that `siamkit train OUT/config.yaml --resume` continues the run
    resolved = yaml.safe_dump(
        with_plugins({"task": "text", **dataclasses.asdict(cfg)}, [*options.plugins, *own_plugins]),
        sort_keys=False,
    )
    atomic_write(out_dir / "config.yaml", resolved)
    graded = _graded(examples, val_ex)
    last_val: dict[str, Any] = {}  # the latest epoch's validation: the end's when it is the last

    def per_epoch() -> dict[str, Any]:
        assert val_ex is not None
        last_val.clear()
        last_val.update(validate(model, val_ex, graded=graded))
        return last_val

    validating = val_ex is not None and cfg.train.val_metric != "none"
    with deterministic_on_cpu(device):  # a seeded or resumed run gives the same weights
        losses = _loop(
            model,
            cfg,
            train_ex,
            plan,
            opt,
            sched,
            (start_epoch, start_step),
            ckpt_path,
            amp,
            options.progress,
            guard.state_dict(),
            rebuild,
            scaler=scaler,
            history=history,
            epoch_losses=state.get("epoch_losses"),
            val=per_epoch if validating else None,
            log=log,
        )
    model.eval()
    # a finished run resumed trains no step: its last loss is the checkpoint's
    final_loss = losses[-1] if losses else state.get("last_loss")
    metrics = {"train.final_loss": final_loss, "train.steps": total}
    if val_ex is not None:  # the last epoch's validation is the end's (the same weights)
        metrics.update(dict(last_val) if last_val else validate(model, val_ex, graded=graded))
    # the model keeps its threshold as a cosine distance; the run reports it as the text
    # commands state it (`siamkit text similarity`: similarity >= x), not as image runs do
    threshold = metrics.pop("verification.threshold", None)
    if threshold is not None:
        metrics["verification.min_similarity"] = 1 - threshold
    model.score_map = fit_score_map(model, train_ex, _range(cfg))
    if model.score_map is not None:
        metrics["score_map.knots"] = len(model.score_map.x)
    from siamkit.export.bundle import save_model

    meta: dict[str, Any] = {"task": "text"}
    if init_from is not None:
        meta["init_from"] = init_from
    model_dir = save_model(model, out_dir / "model", threshold=threshold, metadata=meta)  # type: ignore[arg-type]
    atomic_write(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    atomic_write(out_dir / "history.json", json.dumps(history, indent=2))
    files = {
        "metrics": out_dir / "metrics.json",
        "history": out_dir / "history.json",
        "config": out_dir / "config.yaml",
    }
    report = write_run_report(
        out_dir / "report.html", model, val_ex, graded, history, metrics, threshold
    )
    if report is not None:
        files["report"] = report
    return TaskSummary(model_dir, metrics, files)


def _loop(
    model: TextSiameseNetwork,
    cfg: TextTrainConfig,
    ex: TextExamples,
    plan: EpochBatches,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    start: tuple[int, int],
    ckpt_path: Path,
    amp: bool,
    progress: bool,
    record: dict[str, Any] | None = None,
    rebuild: dict[str, Any] | None = None,
    *,
    scaler: torch.amp.GradScaler | None = None,
    history: list[dict[str, Any]] | None = None,
    epoch_losses: list[float] | None = None,
    val: Callable[[], dict[str, Any]] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[float]:
    """Train on ``plan``'s batches of ``ex`` from ``start`` (epoch, step) to the end,
    checkpointing as configured; ``amp`` and ``scaler`` as
    :func:`~siamkit.training.step.mixed_precision` gives them (a ``scaler`` for float16
    autocast, where the GPU has no native bfloat16). Returns this session's step losses.

    ``history`` (the checkpoint's, extended in place) gets one row per epoch ended
    (:func:`epoch_row`): the mean of its step losses (``epoch_losses``: those of the epoch
    ``start`` is in, taken before it) and ``val()``'s figures (validation after the epoch;
    None: none), and ``log`` gets its line; the checkpoint keeps both, so that a resumed run's
    history is an uninterrupted one's."""
    losses: list[float] = []
    history = [] if history is None else history
    this_epoch = list(epoch_losses or [])
    device = next(model.parameters()).device
    clip = cfg.train.max_grad_norm if cfg.train.max_grad_norm > 0 else None  # 0: off
    every = cfg.train.checkpoint_every
    counts = plan.counts  # each epoch's steps, which under loss mnrl may differ
    initial = sum(counts[: start[0]]) + start[1]
    # as the image trainer's: a bar on a terminal, a few lines in a log (the steps left), closed
    # however the loop ends, so that a Ctrl-C's message is not followed by the bar drawn again
    total = sum(counts) - initial
    bar = Progress(total, "fine-tuning", "steps") if progress else None
    try:
        for epoch in range(start[0], cfg.train.epochs):
            if epoch != start[0]:
                this_epoch = []
            for step in range(start[1] if epoch == start[0] else 0, counts[epoch]):
                model.train()
                with autocast_for(device, amp):
                    loss = batch_loss(model, cfg, ex.subset(plan.batch(epoch, step)))
                opt.zero_grad(set_to_none=True)
                backward_and_step(loss, opt, model.parameters(), scaler, clip)
                sched.step()
                losses.append(float(loss.detach()))
                this_epoch.append(losses[-1])
                if bar is not None:  # (a line written now shows this loss)
                    bar.set_postfix(loss=f"{losses[-1]:.4f}")
                    bar.update(1)
                done = step + 1 == counts[epoch]
                if done:  # validated before the checkpoint, which keeps the row
                    row = epoch_row(epoch + 1, this_epoch, None if val is None else val())
                    history.append(row)
                    this_epoch = []
                    if log is not None:
                        line = epoch_line(row, cfg.train.epochs)
                        if bar is not None:  # the bar cleared and drawn again after it
                            bar.write(line, log)
                        else:
                            log(line)
                if done or (every and (step + 1) % every == 0):
                    nxt = (epoch + 1, 0) if done else (epoch, step + 1)
                    _save_checkpoint(
                        ckpt_path,
                        {
                            "model": model.state_dict(),
                            "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(),
                            "epoch": nxt[0],
                            "step": nxt[1],
                            "rng": rng_state(),
                            "scaler": None if scaler is None else scaler.state_dict(),
                            "last_loss": losses[-1],
                            "config": record,  # model.init_from: what a resume checks
                            START: rebuild,  # what rebuilds the model without the start folder
                            "history": list(history),
                            "epoch_losses": list(this_epoch),  # the epoch's steps so far
                        },
                    )
    finally:
        if bar is not None:
            bar.close()
    return losses
