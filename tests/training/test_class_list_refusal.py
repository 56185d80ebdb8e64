"""A class list given by folder name (as evaluate's --classes takes it) is refused in a sentence
that says what the config's class lists hold: ids, or a count."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.training.config_io import config_from_dict
from siamkit.training.config_sections import ConfigError

HINT = (
    "give class ids (an image folder's sub-folders in name order are 0, 1, 2, ..., as "
    "metrics.json lists them) or a count of classes to draw"
)


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (
            {"val_classes": ["part_024", "part_044"]},
            "data.val_classes[0] must be int, got 'part_024'",
        ),
        (
            {"train_classes": [0, 1, "part_002"]},
            "data.train_classes[2] must be int, got 'part_002'",
        ),
        (
            {"val_classes": "twenty"},
            "data.val_classes must be int, null or a list of int, got 'twenty'",
        ),
    ],
)
def test_a_class_list_of_names_says_what_it_takes(data: dict[str, object], said: str) -> None:
    doc = {"data": {"dataset": "image-folder", "root": "parts", **data}}
    with pytest.raises(ConfigError, match=f"^{re.escape(f'{said}: {HINT}')}$"):
        config_from_dict(doc)


def test_other_keys_keep_their_sentence() -> None:
    with pytest.raises(ConfigError, match=r"^data\.val_fraction must be float, got 'x'$"):
        config_from_dict({"data": {"val_fraction": "x"}})


TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (
            "data.val_classes=[4, 4, 5]",
            "data.val_classes = [4, 4, 5] names class 4 more than once; list each class once",
        ),
        (
            "data.train_classes=[0, 0, 1, 2, 3, 3]",
            "data.train_classes = [0, 0, 1, 2, 3, 3] names classes 0 and 3 more than once; "
            "list each class once",
        ),
    ],
)
def test_a_class_named_twice_is_named_before_the_data_load(
    tmp_path: Path, given: str, said: str
) -> None:
    """data.val_classes [4, 4, 5] was refused as 'contains duplicates' (which class, and what
    to do, unsaid); data.train_classes [0, 0, 1, 2] only after the images were read, as the
    loader's 'train_classes contains duplicates: [...]'."""
    out = tmp_path / "run"
    res = CliRunner().invoke(
        cli, ["train", str(TINY), "--out", str(out), "--set", given, "--set", "train.epochs=1"]
    )
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1] == f"Error: {said}"
    assert "loading" not in res.output and not out.exists()


def test_validation_classes_outside_the_training_list_say_what_to_name() -> None:
    """data.val_classes naming a test class said why it is refused but not what to give, and
    'which are' of one class."""
    with pytest.raises(ValueError) as err:
        config_from_dict({"data": {"train_classes": [0, 1, 2, 3, 4, 5], "val_classes": [4, 9]}})
    assert str(err.value) == (
        "data.val_classes = [4, 9] includes [9], which is not in data.train_classes "
        "[0, 1, 2, 3, 4, 5]: validation classes are held out from the training classes and must "
        "never be test classes; name ids of data.train_classes, or give a count drawn from them "
        "(e.g. data.val_classes: 2)"
    )
    with pytest.raises(ValueError, match=r"includes \[6, 7\], which are not in data\.train"):
        config_from_dict({"data": {"train_classes": [0, 1, 2, 3, 4, 5], "val_classes": [6, 7]}})


def test_a_long_class_list_is_checked_for_repeats_in_linear_time() -> None:
    """The repeat check counted each id with tuple.count, n^2: 30,000 ids took 16.5 s, and a
    20,000-id data.train_classes added 6.5 s to every config load, --set and tune trial. 50,000
    ids now take some 0.02 s (the bound leaves room for a loaded machine)."""
    import time

    import numpy as np

    from siamkit.training.config_classes import _refuse_repeats

    ids = tuple(range(50_000))
    start = time.perf_counter()
    _refuse_repeats("data.train_classes", ids)
    assert time.perf_counter() - start < 1.0
    rng = np.random.default_rng(0)
    drawn = tuple(int(c) for c in rng.integers(0, 40_000, size=50_000))
    values, counts = np.unique(drawn, return_counts=True)
    twice = [int(v) for v in values[counts > 1]]
    with pytest.raises(ValueError) as err:
        _refuse_repeats("data.train_classes", drawn)
    named = re.search(r"names classes (.*) more than once", str(err.value))
    assert named is not None
    assert named.group(1) == ", ".join(map(str, twice[:-1])) + f" and {twice[-1]}"
