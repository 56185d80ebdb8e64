"""Class-disjoint splits, checked against a naive per-sample loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from siamkit.data.splits import class_disjoint_split, fmnist_disjoint, validate_class_lists


@pytest.fixture
def labels() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 7, (500,), generator=gen)


def test_split_partitions_indices(labels):
    split = class_disjoint_split(labels, train_classes=[4, 0, 2], val_fraction=0.2, seed=1)
    train, val, test = split.train_idx.tolist(), split.val_idx.tolist(), split.test_idx.tolist()
    assert split.train_classes == (0, 2, 4) and split.test_classes == (1, 3, 5, 6)
    assert set(train).isdisjoint(val) and set(train).isdisjoint(test) and set(val).isdisjoint(test)
    assert sorted(train + val + test) == list(range(len(labels)))  # every sample exactly once
    for i in range(len(labels)):  # naive reference: membership by label
        in_train_classes = int(labels[i]) in (0, 2, 4)
        assert (i in test) == (not in_train_classes)
    for c in (0, 2, 4):  # stratified validation: per-class rounding
        n_c = int((labels == c).sum())
        assert sum(int(labels[i]) == c for i in val) == round(0.2 * n_c)


def test_split_is_seeded(labels):
    a = class_disjoint_split(labels, [0, 1], seed=3)
    b = class_disjoint_split(labels, [0, 1], seed=3)
    c = class_disjoint_split(labels, [0, 1], seed=4)
    assert torch.equal(a.val_idx, b.val_idx)
    assert not torch.equal(a.val_idx, c.val_idx)


def test_zero_val_fraction(labels):
    split = class_disjoint_split(labels, [1], val_fraction=0.0)
    assert len(split.val_idx) == 0 and len(split.train_idx) == int((labels == 1).sum())


@pytest.mark.parametrize(
    ("train", "match"),
    [
        ([], "empty"),
        ([0, 0], "duplicates"),
        ([0, 9], r"^unknown train class \[9\] in train_classes: the labels have classes"),
        ([8, 9], r"^unknown train classes \[8, 9\] in train_classes: the labels have classes"),
        (list(range(7)), "leave at least one class out"),
    ],
)
def test_bad_class_lists(labels, train, match):
    with pytest.raises(ValueError, match=match):
        class_disjoint_split(labels, train)


def test_validate_overlap_and_unknown_test():
    with pytest.raises(ValueError, match=r"Classes \[1\] are in both"):
        validate_class_lists([0, 1], range(4), test_classes=[1, 2])
    with pytest.raises(ValueError, match="unknown test class") as err:
        validate_class_lists([0], range(4), test_classes=[7])
    # one sentence in training/data.py's form: the ids, where, the classes there, what to set
    assert str(err.value) == (
        "unknown test class [7] in test_classes: the labels have classes [0, 1, 2, 3]; set "
        "test_classes to ids of those classes (or leave it out for the rest)"
    )


def test_an_unknown_train_class_is_one_sentence_naming_what_to_set():
    with pytest.raises(ValueError) as err:
        validate_class_lists([0, 9], range(4))
    assert str(err.value) == (
        "unknown train class [9] in train_classes: the labels have classes [0, 1, 2, 3]; set "
        "train_classes to ids of those classes"
    )
    assert validate_class_lists([2], range(4), test_classes=[3]) == ((2,), (3,))


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_bad_val_fraction(labels, fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        class_disjoint_split(labels, [0], val_fraction=fraction)


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian dataset-fashion-mnist not installed",
)
def test_fmnist_disjoint_protocol():
    data = fmnist_disjoint()
    assert data.train_classes == (0, 1, 2, 3, 4, 5) and data.test_classes == (6, 7, 8, 9)
    assert data.test_images.shape == (4000, 28, 28)
    assert torch.bincount(data.test_labels, minlength=10).tolist() == [0] * 6 + [1000] * 4
    assert len(data.train_labels) + len(data.val_labels) == 36000
    assert len(data.val_labels) == 6 * 600  # 10% of 6,000 per class
    assert set(data.train_labels.unique().tolist()) == set(range(6))
    assert torch.bincount(data.val_labels).tolist() == [600] * 6
    assert data.train_images.dtype == torch.uint8
