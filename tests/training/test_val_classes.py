"""data.val_classes: validation on whole classes held out of the training classes (issue 20)."""

from __future__ import annotations

import pytest
import torch

from siamkit.data.builtin import load_digits_dataset
from siamkit.training import RunConfig, load_run_data
from siamkit.training.config import DataConfig
from siamkit.training.config_io import config_from_dict
from siamkit.training.config_overrides import apply_overrides

TRAIN = (0, 1, 2, 3, 4, 5)


def test_explicit_val_classes_are_held_out_whole() -> None:
    data = load_run_data(DataConfig(dataset="digits", train_classes=TRAIN, val_classes=(4, 1)))
    _, y = load_digits_dataset()
    assert data.val_classes == (1, 4)
    assert data.train_classes == (0, 2, 3, 5)
    assert set(data.val_y.tolist()) == {1, 4}
    assert set(data.train_y.tolist()) == {0, 2, 3, 5}
    # every image of a validation class is in validation, none in training (a naive count)
    for c in (1, 4):
        assert int((data.val_y == c).sum()) == int((y == c).sum())
    assert data.test_classes == (6, 7, 8, 9)
    assert len(data.train_y) == sum(int((y == c).sum()) for c in (0, 2, 3, 5))


def test_a_count_draws_the_same_classes_every_time() -> None:
    cfg = DataConfig(dataset="digits", train_classes=TRAIN, val_classes=2)
    a, b = load_run_data(cfg), load_run_data(cfg)
    assert len(a.val_classes) == 2 and set(a.val_classes) <= set(TRAIN)
    assert a.val_classes == b.val_classes
    assert torch.equal(a.val_y, b.val_y)
    assert not set(a.val_classes) & set(a.train_classes)


def test_without_val_classes_the_per_image_hold_out_stays() -> None:
    data = load_run_data(DataConfig(dataset="digits", train_classes=TRAIN))
    assert data.val_classes == ()
    assert set(data.val_y.tolist()) == set(TRAIN) == set(data.train_y.tolist())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "data.val_classes is empty"),
        ([6, 7], "not in data.train_classes"),  # test classes
        ([0], "at least 2 classes"),
        ([0, 0], "names class 0 more than once"),
        ([0, 1, 2, 3, 4], "fewer than 2 of the 6"),
        (1, "at least 2 classes"),
        (5, "fewer than 2 of the 6"),
    ],
)
def test_bad_val_classes_name_the_key(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        config_from_dict({"data": {"dataset": "digits", "val_classes": value}})
    assert "data.val_classes" in str(err.value)


_MORE = "train on more classes (data.train_classes: a longer list, or a count of classes to draw)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"train_classes": TRAIN, "val_classes": 10},
            f"data.val_classes = 10 leaves fewer than 2 of the 6 classes data.train_classes "
            f"lists to train on: hold out at most 4, or {_MORE}",
        ),
        (
            {"train_classes": 5, "val_classes": 4},
            f"data.val_classes = 4 leaves fewer than 2 of the 5 classes data.train_classes "
            f"draws to train on: hold out at most 3, or {_MORE}",
        ),
        (
            {"train_classes": TRAIN, "val_classes": [0, 1, 2, 3, 4]},
            "data.val_classes = [0, 1, 2, 3, 4] leaves fewer than 2 of the 6 classes "
            f"data.train_classes lists to train on: hold out at most 4, or {_MORE}",
        ),
        (
            {"train_classes": [0, 1, 2], "val_classes": [0, 1]},
            "data.val_classes = [0, 1] leaves fewer than 2 of the 3 classes data.train_classes "
            f"lists to train on: {_MORE}",
        ),
    ],
)
def test_too_many_val_classes_say_how_many_may_be_held_out(
    data: dict[str, object], message: str
) -> None:
    """configs/demo.yaml on a folder of 60 classes with data.val_classes=10 said 'leaves fewer
    than 2 of the 6 train_classes to train on': which 6, and what to change? The sentence names
    data.train_classes, the most that may be held out, and the other way out."""
    with pytest.raises(ValueError) as err:
        config_from_dict({"data": {"dataset": "digits", **data}})
    assert str(err.value) == message


def test_too_many_val_classes_are_refused_in_the_same_words_when_loading() -> None:
    """The library's load_run_data (no config check) counts the loaded training classes."""
    with pytest.raises(ValueError) as err:
        load_run_data(DataConfig(dataset="digits", train_classes=TRAIN, val_classes=5))
    assert str(err.value) == (
        "data.val_classes = 5 leaves fewer than 2 of the 6 classes data.train_classes lists to "
        f"train on: hold out at most 4, or {_MORE}"
    )


def test_override_reads_a_list() -> None:
    cfg = apply_overrides(RunConfig(), ["data.val_classes=[2, 3]"])
    assert cfg.data.val_classes == (2, 3)


def test_a_val_class_the_data_lacks_is_not_called_a_test_class() -> None:
    """A folder of 60 classes with data.val_classes: [999, 1] was told 999 is not a training
    class and 'validation classes must never be test classes': 999 is no class at all. Drawn
    training classes (a count) are checked when loading, against the data's own classes."""
    drawn = load_run_data(DataConfig(dataset="digits", train_classes=6)).train_classes
    test = next(c for c in range(10) if c not in drawn)
    with pytest.raises(ValueError) as err:
        load_run_data(DataConfig(dataset="digits", train_classes=6, val_classes=(42, drawn[0])))
    msg = str(err.value)
    assert msg.startswith(
        "data.val_classes includes [42], which the digits data does not have (its 10 classes "
        "are 0-9); name ids from the training classes ("
    )
    assert "test class" not in msg and "--set data.val_classes=2" in msg
    with pytest.raises(ValueError) as err:
        load_run_data(DataConfig(dataset="digits", train_classes=6, val_classes=(test, drawn[0])))
    assert str(err.value).startswith(
        f"data.val_classes includes [{test}], which is a test class, not a training class "
        "(validation classes must never be test classes); name ids from the training classes "
        f"({', '.join(map(str, drawn))}), or give a count"
    )


def test_val_classes_beside_no_train_classes_are_shown_as_written() -> None:
    """--set data.val_classes=[5,6] --set data.train_classes=null was echoed as '(5, 6)'."""
    with pytest.raises(ValueError) as err:
        config_from_dict({"data": {"train_classes": None, "val_classes": [5, 6]}})
    assert str(err.value).startswith(
        "data.val_classes = [5, 6] with data.train_classes = null: every class is then also a "
        "test class"
    )


def test_a_count_of_zero_says_how_to_turn_whole_class_validation_off() -> None:
    """--set data.val_classes=0, meant as 'off', was told to hold out at least 2 classes only."""
    with pytest.raises(ValueError) as err:
        config_from_dict({"data": {"dataset": "digits", "val_classes": 0}})
    assert str(err.value) == (
        "data.val_classes = 0: hold out at least 2 classes (validation compares classes), or set "
        "it to null for the per-image hold-out (data.val_fraction)"
    )
