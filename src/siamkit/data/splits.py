"""Class-disjoint splits: train on some classes, test on classes the model has never seen.

This is the protocol of one-shot / metric learning (DESIGN §4, "fmnist-disjoint"): the test
classes are unseen during training, so the embedding has to generalise to new classes.

Example:
    >>> import torch
    >>> split = class_disjoint_split(torch.arange(10).repeat(5), train_classes=[0, 1, 2])
    >>> len(split.train_idx) + len(split.val_idx), split.test_classes
    (15, (3, 4, 5, 6, 7, 8, 9))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from siamkit.clauses import in_number
from siamkit.data.fashion_mnist import load_fashion_mnist
from siamkit.data.tensor_dataset import as_label_tensor

__all__ = [
    "FMNIST_TEST_CLASSES",
    "FMNIST_TRAIN_CLASSES",
    "FmnistDisjoint",
    "Split",
    "class_disjoint_split",
    "fmnist_disjoint",
    "validate_class_lists",
]

FMNIST_TRAIN_CLASSES: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
FMNIST_TEST_CLASSES: tuple[int, ...] = (6, 7, 8, 9)


@dataclass(frozen=True)
class Split:
    """Indices of a class-disjoint split.

    Attributes:
        train_idx: ``(N_train,)`` int64 indices of training samples (train classes).
        val_idx: ``(N_val,)`` int64 indices held out from the train classes for validation.
        test_idx: ``(N_test,)`` int64 indices of samples of the test classes.
        train_classes: the classes used for training, sorted.
        test_classes: every other class present in ``labels``, sorted.
    """

    train_idx: torch.Tensor
    val_idx: torch.Tensor
    test_idx: torch.Tensor
    train_classes: tuple[int, ...]
    test_classes: tuple[int, ...]


def validate_class_lists(
    train_classes: Iterable[int],
    all_classes: Iterable[int],
    test_classes: Iterable[int] | None = None,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Check train/test class lists and return them sorted; test defaults to the rest.

    Raises:
        ValueError: empty, duplicated or unknown classes, overlap between train and test, or no
            class left for testing.

    Example:
        >>> validate_class_lists([1, 0], range(4))
        ((0, 1), (2, 3))
    """
    known = sorted({int(c) for c in all_classes})
    train = [int(c) for c in train_classes]
    if not train:
        raise ValueError("train_classes is empty; name at least one class to train on.")
    if len(set(train)) != len(train):
        raise ValueError(f"train_classes contains duplicates: {train}.")
    unknown = sorted(set(train) - set(known))
    if unknown:
        raise ValueError(
            f"unknown train {in_number(len(unknown), 'class', 'classes')} {unknown} in "
            "train_classes: the labels have classes "
            f"{known}; set train_classes to ids of those classes"
        )
    rest = [c for c in known if c not in set(train)]
    test = rest if test_classes is None else [int(c) for c in test_classes]
    unknown = sorted(set(test) - set(known))
    if unknown:
        raise ValueError(
            f"unknown test {in_number(len(unknown), 'class', 'classes')} {unknown} in "
            "test_classes: the labels have classes "
            f"{known}; set test_classes to ids of those classes (or leave it out for the rest)"
        )
    overlap = sorted(set(train) & set(test))
    if overlap:
        raise ValueError(f"Classes {overlap} are in both train_classes and test_classes.")
    if not test:
        raise ValueError(
            f"train_classes uses every class ({known}); leave at least one class out for testing."
        )
    return tuple(sorted(train)), tuple(sorted(set(test)))


def class_disjoint_split(
    labels: Any,
    train_classes: Sequence[int],
    val_fraction: float = 0.1,
    seed: int = 0,
) -> Split:
    """Split sample indices by class, holding out a stratified validation part of train classes.

    Args:
        labels: ``(N,)`` integer class labels.
        train_classes: classes to train on; all other classes become test classes.
        val_fraction: fraction of each train class held out for validation (0 <= f < 1), rounded
            per class.
        seed: seed for the random validation choice (a ``torch.Generator``; CPU, reproducible).

    Returns:
        A :class:`Split`; ``train_idx`` and ``val_idx`` are sorted.

    Example:
        >>> s = class_disjoint_split([0, 0, 1, 1, 2, 2] * 5, train_classes=[0, 1], val_fraction=0.2)
        >>> len(s.train_idx), len(s.val_idx), len(s.test_idx)
        (16, 4, 10)
    """
    y = as_label_tensor(labels)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    train, test = validate_class_lists(train_classes, y.unique().tolist())
    gen = torch.Generator().manual_seed(seed)
    train_parts, val_parts = [], []
    for c in train:
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_val = round(val_fraction * len(idx))
        val_parts.append(idx[:n_val])
        train_parts.append(idx[n_val:])
    test_mask = torch.isin(y, torch.tensor(test, dtype=torch.int64))
    return Split(
        train_idx=torch.cat(train_parts).sort().values,
        val_idx=torch.cat(val_parts).sort().values,
        test_idx=torch.nonzero(test_mask).flatten(),
        train_classes=train,
        test_classes=test,
    )


@dataclass(frozen=True)
class FmnistDisjoint:
    """The fmnist-disjoint benchmark data (DESIGN §4). Images are uint8 ``(N, 28, 28)``.

    Attributes:
        train_images, train_labels: train split, train classes, minus the validation part.
        val_images, val_labels: the held-out validation part (same classes as train).
        test_images, test_labels: all test-split images of the test classes.
        train_classes, test_classes: the class lists.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    train_classes: tuple[int, ...]
    test_classes: tuple[int, ...]


def fmnist_disjoint(
    root: str | os.PathLike | None = None,
    train_classes: Sequence[int] = FMNIST_TRAIN_CLASSES,
    val_fraction: float = 0.1,
    seed: int = 0,
    download: bool = False,
) -> FmnistDisjoint:
    """Build the fmnist-disjoint split: train/val from classes 0-5, test = classes 6-9.

    Train and validation come from the Fashion-MNIST *train* split of ``train_classes``
    (default 32,400 / 3,600); the test set is every *test*-split image of the other classes
    (default 4,000).

    Example:
        >>> data = fmnist_disjoint()  # doctest: +SKIP
        >>> data.test_images.shape, data.test_classes  # doctest: +SKIP
        (torch.Size([4000, 28, 28]), (6, 7, 8, 9))
    """
    train_x, train_y = load_fashion_mnist("train", root=root, download=download)
    test_x, test_y = load_fashion_mnist("test", root=root, download=download)
    split = class_disjoint_split(train_y, train_classes, val_fraction=val_fraction, seed=seed)
    test_idx = torch.nonzero(
        torch.isin(test_y, torch.tensor(split.test_classes, dtype=torch.int64))
    ).flatten()
    return FmnistDisjoint(
        train_images=train_x[split.train_idx],
        train_labels=train_y[split.train_idx],
        val_images=train_x[split.val_idx],
        val_labels=train_y[split.val_idx],
        test_images=test_x[test_idx],
        test_labels=test_y[test_idx],
        train_classes=split.train_classes,
        test_classes=split.test_classes,
    )
