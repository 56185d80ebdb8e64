"""The images of a run: a class-disjoint train / validation / test split held in memory.

``load_run_data(DataConfig())`` is the fmnist-disjoint protocol (DESIGN §4): train-split images
of classes 0-5, 10% of them (per class, seeded) held out for validation, and all test-split images
of the unseen classes 6-9 as the test set.

>>> data = load_run_data(DataConfig(dataset="digits", train_classes=(0, 1, 2, 3, 4, 5)))
>>> data.test_classes
(6, 7, 8, 9)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from siamkit.clauses import counted, in_number
from siamkit.data.memory import STATS_IMAGES, channel_stats
from siamkit.data.sources import DATA_SOURCES
from siamkit.data.splits import validate_class_lists
from siamkit.training.config import DataConfig
from siamkit.training.config_classes import too_few_left_to_train

SPLIT_SEED = 0  # the validation / test hold-out does not move with the training seed
TEST_FRACTION = 0.3  # data.train_classes: null without a test split: the share of each class tested


class RunData(NamedTuple):
    """Images ``(N, C, H, W)`` (uint8 or float in [0, 1]) and int64 labels ``(N,)`` per split.

    Labels keep the dataset's class ids; ``class_names[label]`` names one.
    """

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    test_x: Tensor
    test_y: Tensor
    class_names: tuple[str, ...]
    train_classes: tuple[int, ...]
    test_classes: tuple[int, ...]
    val_classes: tuple[int, ...] = ()  # class-disjoint validation (``data.val_classes``), else ()

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one training image (what :func:`~siamkit.training.build_model` needs)."""
        c, h, w = self.train_x.shape[1:]
        return (int(c), int(h), int(w))

    def channel_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std of (up to 20,000) training images in [0, 1], rounded to 4
        places: summed in float64 chunks (:func:`siamkit.data.memory.channel_stats`), not over
        one float32 copy of them all, 4 times the uint8 images of an image folder (20,000 photos
        at 224 px in colour: 11 GiB more, after the folder was read). Past 20,000, a seeded
        draw in which each class has its share: the first 20,000 of a folder are its first
        classes."""
        return channel_stats(self.train_x, self.train_y, most=STATS_IMAGES)


def seeded_sample(total: int, n: int, seed: int) -> Tensor:
    """``min(n, total)`` distinct indices of ``range(total)``, drawn with ``seed``, in ascending order."""
    pick = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n]
    return pick.sort().values


def to_float(x: Tensor) -> Tensor:
    """uint8 images -> float32 in [0, 1]; float images are returned as they are."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


def _split_by_class(y: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded per-class hold-out: ``(keep indices, held-out indices)``, each sorted.

    The same draws as :func:`siamkit.data.splits.class_disjoint_split` (classes in sorted order,
    one generator), so the validation part matches the fmnist-disjoint protocol. A class of 4
    or more items gives at least 2 when ``fraction > 0`` (one held-out item has no same-class
    neighbour: validation P@1 and the threshold need pairs), and keeps at least 2.
    """
    gen = torch.Generator().manual_seed(seed)
    keep, held = [], []
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(idx.numel(), generator=gen)]
        n_held = round(fraction * idx.numel())
        if fraction > 0 and idx.numel() >= 4:
            n_held = min(max(n_held, 2), idx.numel() - 2)
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    return torch.cat(keep).sort().values, torch.cat(held).sort().values


def held_out_test_images(y: Tensor) -> Tensor:
    """Indices of the images a run with ``data.train_classes: null`` on data without a test
    split (an image folder) held out of training and evaluated on, sorted: a seeded
    :data:`TEST_FRACTION` of each class, given the labels in the order the data source reads them.
    """
    return _split_by_class(y, TEST_FRACTION, SPLIT_SEED)[1]


def _load_source(
    cfg: DataConfig,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None, tuple[str, ...]]:
    """(train images, train labels, test images or None, test labels or None, class names)."""
    from siamkit.training.parts import data_part

    name, params = data_part(cfg)
    return tuple(DATA_SOURCES.build(name, **params))  # type: ignore[return-value]


class UnknownTrainClasses(ValueError):
    """``data.train_classes`` lists ids the data lacks: ``unknown``, the ``dataset`` and its
    ``classes`` (listed) let a command that sets them otherwise (``demo --train-classes``) name
    its own option."""

    def __init__(self, unknown: list[int], dataset: str, classes: str) -> None:
        self.unknown, self.dataset, self.classes = unknown, dataset, classes
        super().__init__(
            f"unknown train {in_number(len(unknown), 'class', 'classes')} {unknown} in "
            f"data.train_classes: {dataset} has classes "
            f"{classes}; set data.train_classes to the ids to train on (the others become the "
            "unseen test classes), e.g. --set 'data.train_classes=[0, 1, 2]', or to a count of "
            "classes to draw, e.g. --set data.train_classes=3"
        )


def _check_class_ids(
    chosen: tuple[int, ...] | list[int], names: tuple[str, ...], dataset: str
) -> None:
    """One sentence naming the data's classes when ``data.train_classes`` lists ids it lacks
    (e.g. the demo's 0-5 kept for an image folder of 5 classes)."""
    unknown = sorted({int(c) for c in chosen} - set(range(len(names))))
    if not unknown:
        return
    # a class named by its number (digits) is listed once: "0, 1", not "0 = 0, 1 = 1"
    from siamkit.data.folders import shown_names

    labels = [str(i) if n == str(i) else f"{i} = {n}" for i, n in enumerate(names)]
    raise UnknownTrainClasses(unknown, dataset, shown_names(labels, 12))


def load_run_data(
    cfg: DataConfig, check_test: Callable[[Tensor, tuple[str, ...]], None] | None = None
) -> RunData:
    """Load and split the data described by ``cfg`` (see the module docstring).

    ``check_test(test_y, class_names)`` is the run's check of its test labels (its evaluation
    protocol), which raises ``ValueError``: when ``data.labels_per_class`` is refused it is run
    too, and a refusal of both is said in one sentence, so a small folder too short for both
    keys names both in one run (the caller still runs its check on what this returns).

    Without separate test images (digits, image folders) the test set is every image of the
    classes not trained on, or, when ``train_classes`` is ``None``, a seeded 30% of each class.

    Raises:
        FileNotFoundError: the data files are not found (the message says how to get them).
        ValueError: ``train_classes`` names classes the dataset does not have.
    """
    x, y, xte, yte, names = _load_source(cfg)
    _check_two_classes(cfg, y, names)
    loaded, held_for = y, "validation (data.val_fraction)"  # labels_per_class's refusal words
    if cfg.train_classes is None:
        train_classes = test_classes = tuple(range(len(names)))
        if xte is None or yte is None:
            keep, held = _split_by_class(y, TEST_FRACTION, SPLIT_SEED)
            xte, yte, x, y = x[held], y[held], x[keep], y[keep]
            _check_held_out_tests(cfg, yte, loaded)
            held_for = f"testing ({TEST_FRACTION:.0%}: data.train_classes is null) and {held_for}"
    else:
        chosen = cfg.train_classes
        if isinstance(chosen, int):
            chosen = _drawn_classes(chosen, len(names))
        _check_class_ids(chosen, names, cfg.dataset)
        train_classes, test_classes = validate_class_lists(chosen, range(len(names)))
        if xte is None or yte is None:
            xte, yte = x, y
        xte, yte = _select(xte, yte, test_classes)
        x, y = _select(x, y, train_classes)
    val_classes = _val_classes(cfg, train_classes, len(names))
    if val_classes:
        held_mask = torch.isin(y, torch.tensor(val_classes, dtype=y.dtype))
        keep, held = torch.nonzero(~held_mask).flatten(), torch.nonzero(held_mask).flatten()
        train_classes = tuple(c for c in train_classes if c not in val_classes)
    else:
        keep, held = _split_by_class(y, cfg.val_fraction, SPLIT_SEED)
    xtr, ytr, xva, yva = x[keep], y[keep], x[held], y[held]
    # copies: the images they came from are let go here, not held beside the later copies of
    # data.labels_per_class and data.limit (an image folder's peak stays its images twice,
    # what siamkit.data.sources.image_folder's memory check counts)
    del x
    _check_split_sizes(cfg, ytr, yva, y, tuple(names))
    if cfg.labels_per_class is not None:
        from siamkit.training.init_from import labels_per_class_subset

        try:
            pick = labels_per_class_subset(
                ytr, cfg.labels_per_class, SPLIT_SEED, names, loaded, held_for
            )
        except ValueError as err:
            _also_refuse_test(err, check_test, yte, tuple(names))
            raise
        xtr, ytr = xtr[pick], ytr[pick]
        _refuse_limit_below_labels(cfg, ytr)
    if cfg.limit is not None and cfg.limit < ytr.numel():
        pick = seeded_sample(ytr.numel(), cfg.limit, SPLIT_SEED)
        xtr, ytr = xtr[pick], ytr[pick]
    return RunData(
        xtr, ytr, xva, yva, xte, yte, tuple(names), train_classes, test_classes, val_classes
    )


def _also_refuse_test(
    err: ValueError,
    check_test: Callable[[Tensor, tuple[str, ...]], None] | None,
    yte: Tensor,
    names: tuple[str, ...],
) -> None:
    """Raise ``err`` and the test labels' refusal by ``check_test`` in one sentence; return
    (for ``err`` alone to be raised) when there is no check or it passes."""
    if check_test is None:
        return
    try:
        check_test(yte, names)
    except ValueError as test_err:
        raise ValueError(f"{str(err).rstrip('.')}; and {test_err}") from None


def _check_held_out_tests(cfg: DataConfig, yte: Tensor, y: Tensor) -> None:
    """``data.train_classes: null`` on data without a test split tests a share of each class:
    refuse it when no class keeps 2 test images (a folder of 3 images a class keeps 1), which
    N-way episodes and genuine pairs need, naming the way out: test whole classes instead."""
    if yte.numel() and int(torch.bincount(yte).max()) >= 2:
        return
    most = int(torch.bincount(y).max()) if y.numel() else 0
    n = int(torch.unique(y).numel())
    raise ValueError(
        f"data.train_classes = null tests a held-out {TEST_FRACTION:.0%} of each class, which "
        f"leaves no class 2 test images (classes of at most {counted(most, 'image')}), "
        "and testing compares images of a class; name a count of classes to train on instead, "
        f"e.g. --set data.train_classes={max(2, n * 2 // 3)}, and the other classes are tested whole"
    )


def _refuse_limit_below_labels(cfg: DataConfig, ytr: Tensor) -> None:
    """A ``data.limit`` below the ``data.labels_per_class`` images it follows (K of each
    training class) would silently train on fewer labels a class than asked for."""
    if cfg.limit is None or cfg.labels_per_class is None or cfg.limit >= ytr.numel():
        return
    k, n = cfg.labels_per_class, int(torch.unique(ytr).numel())
    raise ValueError(
        f"data.limit = {cfg.limit} is fewer than the {ytr.numel():,} images data.labels_per_class "
        f"= {k} keeps ({k} of each of the {n} training classes), so the run would train on about "
        f"{cfg.limit // n} a class: drop one of the two keys"
    )


def _check_two_classes(cfg: DataConfig, y: Tensor, names: tuple[str, ...]) -> None:
    """Refuse data of fewer than two classes, naming the folder (or dataset) and its class."""
    present = torch.unique(y).tolist() if y.numel() else []
    if len(present) >= 2:
        return
    where = f"data.root {cfg.root}" if cfg.root is not None else f"the {cfg.dataset} data"
    if present:
        c = int(present[0])
        held = f"holds only 1 class ({names[c] if c < len(names) else c})"
    else:
        held = "holds no labelled images"
    layout = ": give one sub-folder of images per class" if cfg.dataset == "image-folder" else ""
    raise ValueError(
        f"{where} {held}; similarity training needs at least 2 classes (and N-way evaluation N "
        f"of them){layout}"
    )


def _drawn_classes(n: int, n_classes: int) -> tuple[int, ...]:
    """``data.train_classes: n``: ``n`` of the dataset's classes drawn with :data:`SPLIT_SEED`."""
    if n > n_classes - 1:
        raise ValueError(
            f"data.train_classes = {n} leaves none of the dataset's {n_classes} classes to test "
            "on; draw fewer"
        )
    return tuple(seeded_sample(n_classes, n, SPLIT_SEED).tolist())


def _check_split_sizes(
    cfg: DataConfig, ytr: Tensor, yva: Tensor, y: Tensor, names: tuple[str, ...] = ()
) -> None:
    """Refuse, before any training, a split whose training part cannot fill a P×K batch (no
    class with 2 images) or whose validation part has no same-class pair to validate on. ``y``:
    the training classes' labels before validation was held out of them; ``names``: the data's
    class names, for naming held-out classes of one image."""
    if ytr.numel() == 0 or int(torch.bincount(ytr).max()) < 2:
        # holding fewer images out for validation helps only when some class has 2 to keep
        # (not with one image a class, nor with whole classes held out by data.val_classes)
        helps = cfg.val_classes is None and y.numel() > 0 and int(torch.bincount(y).max()) >= 2
        fix = (
            "lower data.val_fraction or give more images per class"
            if helps
            else "give the training classes 2 or more images each"
        )
        raise ValueError(
            f"the training split of data.train_classes has no class with 2 images "
            f"({ytr.numel()} images): P×K batches need same-class pairs; {fix}"
        )
    if yva.numel() and int(torch.bincount(yva).max()) < 2:
        if cfg.val_classes is None:
            key = f"data.val_fraction = {cfg.val_fraction}"
            fix = "; hold out more images, or whole classes with data.val_classes"
        else:  # whole classes of one image each: more images of them, not data.val_classes
            key = f"data.val_classes = {_shown(cfg.val_classes)}"
            held = [names[c] if c < len(names) else str(c) for c in sorted(set(yva.tolist()))]
            from siamkit.data.folders import shown_names

            fix = (
                f", and the classes it holds out ({shown_names(held)}) have 1 image each: hold "
                "out classes of 2 or more images"
            )
        raise ValueError(
            f"{key} leaves no validation class with 2 images ({yva.numel()} images): validation "
            f"and the threshold need same-class pairs{fix}"
        )


def _shown(classes: tuple[int, ...] | int) -> str:
    """Class ids as the user writes them in YAML (``[4, 5]``, not a tuple), or a count."""
    return str(list(classes)) if isinstance(classes, tuple) else str(classes)


def _val_classes(
    cfg: DataConfig, train_classes: tuple[int, ...], n_classes: int
) -> tuple[int, ...]:
    """The class-disjoint validation classes ``data.val_classes`` names, or draws (a count, with
    :data:`SPLIT_SEED`), checked against the dataset's ``n_classes`` classes and its training
    classes; ``()`` when unset."""
    vc = cfg.val_classes
    if vc is None:
        return ()
    if isinstance(vc, int):
        if vc > len(train_classes) - 2:
            raise too_few_left_to_train(vc, train_classes)
        pick = seeded_sample(len(train_classes), vc, SPLIT_SEED).tolist()
        return tuple(train_classes[i] for i in pick)
    fix = (
        f"name ids from the training classes ({_short_ids(train_classes)}), or give a count "
        "drawn from them, e.g. --set data.val_classes=2"
    )
    unknown = sorted(c for c in vc if not 0 <= c < n_classes)
    if unknown:  # not a class at all: calling it a test class would mislead
        where = f"data.root {cfg.root}" if cfg.root is not None else f"the {cfg.dataset} data"
        raise ValueError(
            f"data.val_classes includes {unknown}, which {where} does not have (its "
            f"{n_classes} classes are 0-{n_classes - 1}); {fix}"
        )
    outside = sorted(set(vc) - set(train_classes))
    if outside:
        raise ValueError(
            f"data.val_classes includes {outside}, which "
            f"{'are test classes' if len(outside) > 1 else 'is a test class'}, not a training "
            f"class (validation classes must never be test classes); {fix}"
        )
    return tuple(sorted(vc))


def _short_ids(ids: tuple[int, ...], shown: int = 12) -> str:
    """``0, 1, 2`` for a few ids, ``0, 1, ..., 9, ... (40 in all)`` past ``shown`` of them."""
    from siamkit.data.folders import shown_names

    return shown_names([str(i) for i in ids], shown)


def _select(x: Tensor, y: Tensor, classes: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    mask = torch.isin(y, torch.tensor(classes, dtype=y.dtype))
    return x[mask], y[mask]


def cohort_folder_images(root: str, n: int, seed: int) -> list[Path]:
    """A seeded sample of ``n`` image files found anywhere under ``root`` (``eval.cohort_root``).

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: it holds no images.
    """
    from siamkit.data.folders import images_under

    paths = images_under(root, "eval.cohort_root")
    return [paths[i] for i in seeded_sample(len(paths), n, seed).tolist()]


def load_unlabeled_pool(cfg: DataConfig, classes: tuple[int, ...], n: int, seed: int) -> Tensor:
    """A seeded sample of ``n`` images of ``classes`` that are in neither the test set nor the
    training set, without their labels: Fashion-MNIST's *train-split* images of the test classes.

    This is the in-domain unlabeled data a deployment has (a gallery's own inputs, say), used as
    a score-normalisation cohort (``eval.cohort: unlabeled``). Nothing is trained on it.

    Raises:
        ValueError: the dataset has no such images (only Fashion-MNIST has a separate train split
            of the test classes).
    """
    if cfg.dataset != "fashion-mnist":
        raise ValueError(
            f"eval.cohort = unlabeled needs unlabeled images of the test classes that are not test "
            f"images; {cfg.dataset!r} has none (Fashion-MNIST has: its train split). "
            "Use eval.cohort = train"
        )
    from siamkit.data.fashion_mnist import load_fashion_mnist

    x, y = load_fashion_mnist("train", root=cfg.root)
    x, _ = _select(x.unsqueeze(1), y, classes)
    return x[seeded_sample(x.shape[0], n, seed)]
