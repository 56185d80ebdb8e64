"""Run data: class-disjoint splits agree with siamkit.data.splits; image folders; clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.data.builtin import load_digits_dataset
from siamkit.data.fashion_mnist import fashion_mnist_dir
from siamkit.data.splits import class_disjoint_split
from siamkit.training import DataConfig, load_run_data


def test_digits_split_matches_the_protocol_split() -> None:
    data = load_run_data(
        DataConfig(dataset="digits", train_classes=(0, 1, 2, 3, 4, 5), val_fraction=0.1)
    )
    x, y = load_digits_dataset()
    ref = class_disjoint_split(y, [0, 1, 2, 3, 4, 5], val_fraction=0.1, seed=0)
    train_mask = torch.isin(y, torch.arange(6))
    xt, yt = x[train_mask], y[train_mask]
    # the reference indexes the full set; ours indexes the train-class subset: compare contents
    assert torch.equal(torch.sort(data.val_y).values, torch.sort(y[ref.val_idx]).values)
    assert torch.equal(data.val_x, x[ref.val_idx])
    assert len(data.train_y) + len(data.val_y) == len(yt) and data.test_classes == (6, 7, 8, 9)
    assert torch.equal(data.test_y, y[~train_mask]) and data.train_x.shape[1:] == xt.shape[1:]


@pytest.mark.skipif(fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")
def test_fashion_mnist_defaults_are_fmnist_disjoint() -> None:
    from siamkit.data.splits import fmnist_disjoint

    ours, ref = load_run_data(DataConfig()), fmnist_disjoint()
    assert torch.equal(ours.train_x[:, 0], ref.train_images) and torch.equal(
        ours.val_y, ref.val_labels
    )
    assert torch.equal(ours.test_x[:, 0], ref.test_images) and len(ours.test_y) == 4000


def test_limit_and_all_classes() -> None:
    data = load_run_data(DataConfig(dataset="digits", train_classes=None, limit=100))
    assert len(data.train_y) == 100 and data.test_classes == data.train_classes == tuple(range(10))
    assert set(data.test_y.tolist()) == set(range(10))  # a held-out 30% of every class


def test_limit_samples_the_training_split_only() -> None:
    """data.limit keeps a seeded sample of the training split; the validation and test images
    stay every held-out one (a limited Fashion-MNIST run still validates on 3,600: s58_c4), and
    the key's documentation says so (it said "training images" and left validation open)."""
    whole = load_run_data(DataConfig(dataset="digits"))
    limited = load_run_data(DataConfig(dataset="digits", limit=40))
    assert len(limited.train_y) == 40 < len(whole.train_y)
    assert torch.equal(limited.val_x, whole.val_x) and torch.equal(limited.val_y, whole.val_y)
    assert torch.equal(limited.test_x, whole.test_x) and len(limited.val_y) > 40
    doc = " ".join((DataConfig.__doc__ or "").split())
    assert "drawn after the validation images are held out" in doc
    assert "The validation and test images are not limited" in doc


def test_limit_docs_say_val_classes_holds_out_whole_classes() -> None:
    """data.limit's documentation said "a smaller val_fraction, or val_classes, holds out fewer";
    val_classes holds out every image of its classes (6,000 per Fashion-MNIST class: 6,000 or
    12,000 validation images against val_fraction's 3,600: s59_r7), so it says that instead."""
    by_images = load_run_data(DataConfig(dataset="digits", limit=40))
    by_class = load_run_data(DataConfig(dataset="digits", limit=40, val_classes=(4,)))
    assert set(by_class.val_y.tolist()) == {4}
    assert len(by_class.val_y) > len(by_images.val_y)  # 181 against 108: more, not fewer
    doc = " ".join((DataConfig.__doc__ or "").split())
    assert "or ``val_classes``, holds out fewer" not in doc
    assert "``val_classes`` holds out whole classes instead, every image of each" in doc


def test_image_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for c in ("ant", "bee", "cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(6):
            Image.fromarray((rng.random((12, 10, 3)) * 255).astype("uint8")).save(
                tmp_path / c / f"{i}.png"
            )
    cfg = DataConfig(
        dataset="image-folder",
        root=str(tmp_path),
        train_classes=(0, 1),
        image_size=8,
        grayscale=True,
    )
    data = load_run_data(cfg)
    assert data.input_shape == (1, 8, 8) and data.class_names == ("ant", "bee", "cat", "dog")
    assert data.test_classes == (2, 3) and len(data.test_y) == 12
    assert len(data.train_y) + len(data.val_y) == 12


def test_a_folder_of_loose_images_points_to_task_ssl(tmp_path: Path) -> None:
    """500 unlabeled photos in one folder, given to a supervised config, said only "has no
    sub-folders; expected one folder per class": nothing of the self-supervised run that takes
    such a folder. A folder with class sub-folders (loose images beside them) is read as it was."""
    for i in range(3):
        Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(tmp_path / f"{i}.png")
    cfg = DataConfig(dataset="image-folder", root=str(tmp_path), train_classes=None)
    with pytest.raises(ValueError) as err:
        load_run_data(cfg)
    assert str(err.value) == (
        f"data.root {str(tmp_path)!r} holds 3 images and no class sub-folders: a run with labels "
        "needs one sub-folder of images per class (root/cat/1.png, root/dog/2.png); to learn "
        "from unlabeled images train configs/simclr.yaml (task: ssl) on the folder"
    )
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(4):
            Image.new("RGB", (8, 8), (0, 40 * i, 0)).save(tmp_path / c / f"{i}.png")
    assert load_run_data(cfg).class_names == ("a", "b")


def test_bad_classes_and_missing_root() -> None:
    with pytest.raises(ValueError) as err:
        load_run_data(DataConfig(dataset="digits", train_classes=(0, 12)))
    said = str(err.value)
    assert said.startswith("unknown train class [12] in data.train_classes: digits has ")
    assert "0, 1, 2, 3, 4, 5, 6, 7, 8, 9; set data.train_classes to the ids" in said
    # one sentence: no full stop but those of "e.g."
    assert "." not in said.replace("e.g.", "").replace("data.train_classes", "")
    with pytest.raises(ValueError, match=r"data\.root"):
        load_run_data(DataConfig(dataset="image-folder"))


@pytest.mark.skipif(fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")
def test_unlabeled_pool_is_train_split_images_of_the_test_classes() -> None:
    from siamkit.data.fashion_mnist import load_fashion_mnist
    from siamkit.training.data import load_unlabeled_pool

    cfg = DataConfig(train_classes=(1, 3, 5, 7, 9))
    pool = load_unlabeled_pool(cfg, (0, 2, 4, 6, 8), 300, seed=0)
    assert pool.shape == (300, 1, 28, 28) and pool.dtype == torch.uint8
    assert torch.equal(pool, load_unlabeled_pool(cfg, (0, 2, 4, 6, 8), 300, seed=0))  # seeded
    x, y = load_fashion_mnist("train")
    rows = {bytes(img.numpy()): int(label) for img, label in zip(x, y)}
    labels = [rows.get(bytes(img[0].numpy())) for img in pool]
    assert None not in labels and set(labels) <= {0, 2, 4, 6, 8}  # each a train-split image
    assert len(set(labels)) == 5  # all the test classes are in it
    test_x, _ = load_fashion_mnist("test")
    test_rows = {bytes(img.numpy()) for img in test_x}
    assert not any(bytes(img[0].numpy()) in test_rows for img in pool)  # no test image
    with pytest.raises(ValueError, match="'digits' has none"):
        load_unlabeled_pool(DataConfig(dataset="digits"), (6, 7), 10, seed=0)
