"""The classes a run config names: the training and validation class lists and the N of
the N-way episodes the evaluation draws (:func:`resolved_ways`), checked before anything loads."""

from __future__ import annotations

from collections import Counter

from siamkit.clauses import in_number, listed
from siamkit.training.config import ALL_CLASS_WAYS_UP_TO, DataConfig, EvalConfig, RunConfig


def eval_ways(cfg: EvalConfig) -> tuple[int, ...]:
    """``eval.ways`` as a tuple (``()``: not set, the number of unseen classes decides)."""
    if cfg.ways is None:
        return ()
    return (cfg.ways,) if isinstance(cfg.ways, int) else tuple(cfg.ways)


def resolved_ways(cfg: EvalConfig, n_classes: int) -> tuple[int, ...]:
    """The N of N-way episodes ``cfg`` asks for among ``n_classes`` (each capped at it):
    ``eval.ways``, or when unset all classes up to :data:`ALL_CLASS_WAYS_UP_TO`, else 5 and 20.

    >>> resolved_ways(EvalConfig(), 4), resolved_ways(EvalConfig(), 200)
    ((4,), (5, 20))
    >>> resolved_ways(EvalConfig(ways=(5, 20, 50)), 12)
    (5, 12)
    """
    ways = eval_ways(cfg)
    if not ways:
        ways = (n_classes,) if n_classes <= ALL_CLASS_WAYS_UP_TO else (5, ALL_CLASS_WAYS_UP_TO)
    return tuple(dict.fromkeys(min(n, n_classes) for n in ways))


def _check_class_lists(cfg: RunConfig) -> None:
    """Empty lists and counts that cannot work, named by key, before anything loads or trains."""
    tc = cfg.data.train_classes
    if isinstance(tc, int) and tc < 2:
        raise ValueError(f"data.train_classes = {tc}: draw at least 2 classes to train on")
    if isinstance(tc, tuple) and not tc:
        raise ValueError(
            "data.train_classes is empty; name the classes to train on, or give a count"
        )
    if isinstance(tc, tuple):
        _refuse_repeats("data.train_classes", tc)
    if isinstance(tc, tuple) and len(set(tc)) < 2:
        raise ValueError(
            f"data.train_classes = {list(tc)}: name at least 2 classes to train on (P×K batches "
            "compare classes)"
        )
    if not cfg.eval.shots or any(k < 1 for k in cfg.eval.shots):
        raise ValueError(
            f"eval.shots = {list(cfg.eval.shots)}: give one or more K of N-way K-shot, each >= 1"
        )
    ways = eval_ways(cfg.eval)
    if cfg.eval.ways is not None and (not ways or any(n < 2 for n in ways)):
        raise ValueError(
            f"eval.ways = {cfg.eval.ways!r}: give one or more N of N-way K-shot, each >= 2 "
            "(or null for all unseen classes)"
        )
    if tc is None and cfg.data.val_classes is not None:
        raise ValueError(
            f"data.val_classes = {_as_written(cfg.data.val_classes)} with data.train_classes = "
            "null: every "
            "class is then also a test class, so validation classes would be test classes; name "
            "data.train_classes (a list or a count) to hold validation classes out of them"
        )


def too_few_left_to_train(
    val_classes: tuple[int, ...] | int, train_classes: tuple[int, ...] | int
) -> ValueError:
    """The sentence for ``data.val_classes`` holding out so many of ``data.train_classes`` (a
    list or a count) that fewer than 2 are left to train on.

    >>> print(too_few_left_to_train(10, (0, 1, 2, 3, 4, 5)))  # doctest: +NORMALIZE_WHITESPACE
    data.val_classes = 10 leaves fewer than 2 of the 6 classes data.train_classes lists to train
    on: hold out at most 4, or train on more classes (data.train_classes: a longer list, or a
    count of classes to draw)
    """
    shown = val_classes if isinstance(val_classes, int) else list(val_classes)
    n = train_classes if isinstance(train_classes, int) else len(train_classes)
    lists = "draws" if isinstance(train_classes, int) else "lists"
    more = (
        "train on more classes (data.train_classes: a longer list, or a count of classes to draw)"
    )
    fix = f"hold out at most {n - 2}, or {more}" if n >= 4 else more
    return ValueError(
        f"data.val_classes = {shown} leaves fewer than 2 of the {n} classes data.train_classes "
        f"{lists} to train on: {fix}"
    )


def _as_written(classes: tuple[int, ...] | int) -> str:
    """Class ids as a config writes them (``[5, 6]``, not a tuple's ``(5, 6)``), or a count."""
    return str(classes if isinstance(classes, int) else list(classes))


def _refuse_repeats(key: str, classes: tuple[int, ...]) -> None:
    """Refuse a class list that names a class more than once, naming the class and the fix,
    before anything loads (the loader's own check of ``data.train_classes`` comes after the
    images are read, and ``data.val_classes`` said only that it "contains duplicates").

    >>> _refuse_repeats("data.val_classes", (3, 1, 3, 1, 2))
    Traceback (most recent call last):
    ...
    ValueError: data.val_classes = [3, 1, 3, 1, 2] names classes 1 and 3 more than once; list each class once
    """
    repeated = sorted(c for c, n in Counter(classes).items() if n > 1)  # not count(): n^2
    if not repeated:
        return
    named = f"{in_number(len(repeated), 'class', 'classes')} {listed([str(c) for c in repeated])}"
    raise ValueError(f"{key} = {list(classes)} names {named} more than once; list each class once")


def _check_val_classes(cfg: DataConfig) -> None:
    """``data.val_classes``: at least two classes, all of them training classes, two left to train."""
    vc = cfg.val_classes
    if vc is None:
        return
    tc = cfg.train_classes
    n_train = tc if isinstance(tc, int) else len(tc) if tc is not None else None
    if isinstance(vc, int):
        if vc < 2:
            raise ValueError(
                f"data.val_classes = {vc}: hold out at least 2 classes (validation compares "
                "classes), or set it to null for the per-image hold-out (data.val_fraction)"
            )
        if tc is not None and n_train is not None and vc > n_train - 2:
            raise too_few_left_to_train(vc, tc)
        return
    if len(vc) == 0:
        raise ValueError("data.val_classes is empty; name at least 2 classes, or give a count")
    _refuse_repeats("data.val_classes", vc)
    if len(vc) < 2:
        raise ValueError(
            f"data.val_classes = {list(vc)}: hold out at least 2 classes (validation compares classes)"
        )
    if isinstance(cfg.train_classes, tuple):
        outside = sorted(set(vc) - set(cfg.train_classes))
        if outside:
            raise ValueError(
                f"data.val_classes = {list(vc)} includes {outside}, which "
                f"{in_number(len(outside), 'is', 'are')} not in data.train_classes "
                f"{list(cfg.train_classes)}: validation classes are held out from the training "
                "classes and must never be test classes; name ids of data.train_classes, or give "
                "a count drawn from them (e.g. data.val_classes: 2)"
            )
        if len(cfg.train_classes) - len(vc) < 2:
            raise too_few_left_to_train(vc, cfg.train_classes)
