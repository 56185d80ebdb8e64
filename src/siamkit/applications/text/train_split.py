"""A text run's validation share: a seeded ``data.val_fraction`` of the training examples,
held out in whole groups of examples that share a text and stratified by label or score
(:func:`_split`), or ``data.val``."""

from __future__ import annotations

import random
from collections import Counter
from itertools import chain

from siamkit.applications.text.pairs import TextExamples, read_examples
from siamkit.applications.text.train_config import TextTrainConfig
from siamkit.applications.text.train_strata import allocation, proportions_note, strata
from siamkit.clauses import counted

VAL_SPLIT, STRATIFIED = "val_split", "stratified"
"""The checkpoint's key saying how its run drew the validation share, and its value for a
stratified one (a checkpoint from before has none, and its resumed run draws the share it drew)."""

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
    groups: list[list[int]],
    n_val: int,
    seed: int,
    targets: tuple[float, ...] | None = None,
    of: list[int] | None = None,
) -> list[int]:
    """Validation indices: whole groups in a seeded order, each taken when it brings each
    stratum's count nearer its share of ``n_val`` and leaves training some; the smallest group
    when none does. ``of``: each example's stratum
    (:func:`~siamkit.applications.text.train_strata.strata`), whose shares
    (:func:`~siamkit.applications.text.train_strata.allocation`) keep the file's proportion of
    labels or scores; None: one stratum, each group taken when it brings the count nearer
    ``n_val``. Examples that share no text are one group each, so such a file splits as a
    seeded stratified shuffle (a plain one with one stratum). With ``targets``, a side whose
    pairs all have one label (or score) gets a group holding another from the other side
    (:func:`_two_targets_each`)."""
    order = list(groups)
    random.Random(seed).shuffle(order)
    n = sum(map(len, groups))
    of = of or [0] * n
    want, have = allocation(of, n_val), Counter[int]()
    val: list[list[int]] = []
    count = 0
    for g in order:
        kinds = Counter(of[i] for i in g)
        before = sum(abs(have[s] - want[s]) for s in kinds)
        after = sum(abs(have[s] + k - want[s]) for s, k in kinds.items())
        if after < before and count + len(g) < n:
            val.append(g)
            have += kinds
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
    ex: TextExamples, cfg: TextTrainConfig, stratify: bool = True
) -> tuple[TextExamples, TextExamples | None, list[str]]:
    """Training and validation examples, and the lines to log about them.

    ``data.val`` is read as given; a line counts its texts that training has too. Otherwise a
    seeded ``data.val_fraction`` of the examples is held out (none under
    ``MIN_SPLIT_EXAMPLES``) in whole groups of examples sharing a text (:func:`text_groups`),
    so that no text is on both sides: a ticket paired with many others would otherwise be
    validated on after training on it, and the early-stopping, the metrics and the calibrated
    threshold would be optimistic, as seen-class validation is for images. Texts are compared
    with runs of whitespace as one space and case folded (:func:`_norm`). The share is
    stratified: labelled pairs keep the file's proportion of each label on both sides, graded
    ones of each quantile bin of scores (:mod:`~siamkit.applications.text.train_strata`), and a
    line says what proportion each side got. ``stratify`` False draws it as a run resumed from
    a checkpoint made before that drew it, with a line saying so. A share whose pairs all have
    one label (or one score) takes one more group holding another, where the file has one, and
    training so too (:func:`_two_targets_each`). When one group holds more than
    ``1 - val_fraction`` of the examples (a file whose pairs all link up, e.g. every pair of a
    few documents), no such split gives validation its share: the split is a seeded one of
    single examples (stratified as well), with a line saying that validation shares texts with
    training. That is a note, not a refusal: the run trains as it would, the user who cannot give a
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
                f"data.val {d.val} shares all {shared:,} of its texts with data.train {d.train}: "
                "its metrics and calibrated threshold are measured on texts the model trained "
                "on (optimistic); give data.val pairs of other texts, or leave it out to "
                "validate on a share of data.train (data.val_fraction) that keeps them apart"
            )
        elif shared:
            notes.append(
                f"data.val {d.val} shares {shared:,} of its {counted(len(val_texts), 'text')} "
                f"with data.train "
                f"{d.train}: its metrics and calibrated threshold are measured partly on texts "
                "the model trained on (optimistic); leave them out of one of the files"
            )
        return ex, val, notes
    if d.val_fraction == 0 or len(ex) < MIN_SPLIT_EXAMPLES:
        return ex, None, []
    n_val = max(1, round(len(ex) * d.val_fraction))
    of = strata(ex.targets, n_val)  # validation keeps the file's proportion of each
    said = None
    if not stratify and of is not None and len(set(of)) > 1:
        of, said = (
            None,
            (
                "validation is drawn as the resumed checkpoint's run drew it, before validation "
                "shares were stratified by label or score (a new run stratifies it)"
            ),
        )
    groups = text_groups(ex)
    largest = max(map(len, groups))
    linked = largest > (1 - d.val_fraction) * len(ex)
    if linked:  # no text-disjoint split: each example a group of its own
        groups = [[i] for i in range(len(ex))]
    held = _take_groups(groups, n_val, cfg.train.seed, ex.targets, of)
    kept = sorted(set(range(len(ex))) - set(held))
    train, val = ex.subset(kept), ex.subset(held)
    if linked:
        note = (
            f"data.val_fraction {d.val_fraction}: {largest:,} of the {len(ex):,} examples of "
            f"{d.train} are linked by shared texts, more than {1 - d.val_fraction:g} of "
            f"them, so validation is a random {len(val):,}, drawn regardless of them, and shares "
            f"{counted(len(_texts(val) & _texts(train)), 'text')} with training: its metrics and "
            "calibrated threshold are optimistic; give data.val, pairs of texts that "
            "training does not have"
        )
    else:
        note = (
            f"validation: {len(val):,} of the {len(ex):,} examples of {d.train} (data.val_fraction "
            f"{d.val_fraction}) with {len(_texts(val)):,} of the file's "
            f"{counted(len(_texts(ex)), 'text')}; "
            "examples that share a text are kept on one side, so no text is on both sides"
        )
    if of is not None and ex.targets is not None:
        said = proportions_note(of, kept, held, ex.targets, _range(cfg))
    return train, val, [note, *([said] if said else [])]


def _range(cfg: TextTrainConfig) -> tuple[float, float] | None:
    sr = cfg.data.score_range
    return None if sr is None else (float(sr[0]), float(sr[1]))
