"""export --int8's check on a model that records no data of its own: Fashion-MNIST's train split.

It read 1,000 images of the test split, classes 6-9 included, so every such export touched the
test classes by default (s54_c8). The images are now the train split's (of the training classes
the model records, else all ten), not the default calibration's, and the line says so."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.cli._int8_check import CHECK_IMAGES, held_out_images


def _rows(x: np.ndarray) -> set[bytes]:
    return {bytes(r) for r in x.reshape(len(x), -1)}


@pytest.fixture(scope="module")
def splits() -> dict[str, set[bytes]]:
    """Each split's images, as bytes."""
    from siamkit.data.fashion_mnist import load_fashion_mnist

    return {split: _rows(load_fashion_mnist(split)[0].numpy()) for split in ("train", "test")}


def _check_rows(doc: dict) -> tuple[list[bytes], np.ndarray, str, str | None]:
    images = held_out_images("model", doc, (1, 28, 28), None)
    assert images is not None
    x = np.rint(np.asarray(images.x) * 255).astype(np.uint8)
    return (
        [bytes(r) for r in x.reshape(len(x), -1)],
        np.asarray(images.y),
        images.source,
        images.differs,
    )


def test_a_model_without_data_is_checked_on_train_split_images(splits) -> None:
    rows, y, source, differs = _check_rows({"metadata": {}})
    train, test = splits["train"], splits["test"]
    assert len(rows) == CHECK_IMAGES
    assert all(r in train for r in rows)  # before: none of them (the test split's)
    assert not any(r in test for r in rows)
    assert sorted(set(y.tolist())) == list(range(10))
    assert source.endswith(
        "from fashion-mnist (train split, as the model records no data of its own)"
    )
    assert differs == "Fashion-MNIST training images, the model recording no data of its own"


def test_the_training_classes_the_model_records_are_the_ones_read(splits) -> None:
    doc = {"metadata": {"run": {"train_classes": [0, 1, 2, 3, 4, 5]}}}
    rows, y, source, _ = _check_rows(doc)
    train = splits["train"]
    assert all(r in train for r in rows)
    assert sorted(set(y.tolist())) == [0, 1, 2, 3, 4, 5]  # no test class 6-9
    assert "6 classes" in source and "train split" in source


def test_the_check_images_are_not_the_default_calibration_images() -> None:
    from siamkit.export.calibration import calibration_images

    images = held_out_images("model", {"metadata": {}}, (1, 28, 28), None)
    assert images is not None
    calib = calibration_images("fashion-mnist", (1, 28, 28), count=300)
    calibrated = _rows(np.rint(np.asarray(calib) * 255).astype(np.uint8))
    assert not _rows(np.rint(np.asarray(images.x) * 255).astype(np.uint8)) & calibrated


def test_a_half_twin_whose_data_is_gone_is_not_said_to_record_none() -> None:
    """A half-twin records its run's data.path: with the .npz gone the check falls back to
    Fashion-MNIST, and its line said "as the model records no data of its own" next to the
    clause naming that data.path (s55_R8 finding 1)."""
    meta = {"task": "half_twin", "config": {"data": {"path": "/no/such/dir/pairs.npz"}}}
    images = held_out_images("model", {"metadata": meta}, (1, 28, 28), None)
    assert images is not None
    assert images.source.endswith("from fashion-mnist (train split)")
    assert "no data" not in images.source + str(images.differs)
    assert images.differs == "Fashion-MNIST training images, not its run's test set"


@pytest.mark.parametrize("count", [300, 20_000])
def test_the_recorded_training_classes_images_are_not_the_calibration_images(count) -> None:
    """The default calibration takes the near end of the whole train split's seed-0
    permutation; the check's images of six classes came from a permutation of those classes
    alone, another order, so 4 of the default 300 (336 of 20,000) were among them (s55_R8
    finding 4). They are now the six classes' images nearest that permutation's far end."""
    from siamkit.export.calibration import calibration_images

    doc = {"metadata": {"run": {"train_classes": [0, 1, 2, 3, 4, 5]}}}
    images = held_out_images("model", doc, (1, 28, 28), None)
    assert images is not None
    assert len(images.y) == CHECK_IMAGES
    assert sorted(set(np.asarray(images.y).tolist())) == [0, 1, 2, 3, 4, 5]
    calib = calibration_images("fashion-mnist", (1, 28, 28), count=count)
    calibrated = _rows(np.rint(np.asarray(calib) * 255).astype(np.uint8))
    assert not _rows(np.rint(np.asarray(images.x) * 255).astype(np.uint8)) & calibrated
