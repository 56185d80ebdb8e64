"""What a text run refuses or notes about its examples before training: labels, scores,
validation pairs, batches and Matryoshka sizes the run cannot use as given."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.applications.text.pairs import TextExamples
from siamkit.applications.text.train_config import TextTrainConfig
from siamkit.applications.text.train_loop import EpochBatches
from siamkit.applications.text.train_split import MIN_SPLIT_EXAMPLES, _norm, _range
from siamkit.clauses import counted, in_number


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
        f"{counted(n, 'pair')} of texts in {cfg.data.train} {in_number(n, 'is', 'are')} "
        f"labelled both 0 and 1 (the first: {a!r} and {b!r}, up to case and spacing): training "
        "pulls such a pair together and pushes it apart at once; keep one label for each pair"
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
            f"{counted(len(train), 'training pair')} {'scores' if len(train) == 1 else 'all score'}"
            f" {shown:g}: add pairs of other scores, or use loss contrastive (0/1 labels), or "
            "mnrl with data.format anchor_positive (similar pairs)"
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
