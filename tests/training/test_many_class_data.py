"""Many-class few-image data (issue 20): a drawn count of training classes, a per-image hold-out
that leaves same-class pairs, N-way lists, and bad input refused by key before anything is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from siamkit.data.synthetic_glyphs import write_glyph_folder
from siamkit.training import RunConfig, load_run_data
from siamkit.training.config import DataConfig
from siamkit.training.config_io import config_from_dict
from siamkit.training.config_overrides import apply_overrides


@pytest.fixture(scope="module")
def glyphs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 glyph classes × 10 images, 16 × 16."""
    return write_glyph_folder(tmp_path_factory.mktemp("g") / "glyphs", 12, per_class=10, size=16)


def _folder(root: Path, **kw: object) -> DataConfig:
    return DataConfig(dataset="image-folder", root=str(root), image_size=16, grayscale=True, **kw)  # type: ignore[arg-type]


def test_a_count_of_training_classes_is_drawn_with_a_fixed_seed(glyphs: Path) -> None:
    a = load_run_data(_folder(glyphs, train_classes=8, val_classes=3))
    b = load_run_data(_folder(glyphs, train_classes=8, val_classes=3))
    assert a.train_classes == b.train_classes and a.val_classes == b.val_classes
    assert len(a.train_classes) == 5 and len(a.val_classes) == 3 and len(a.test_classes) == 4
    every = set(a.train_classes) | set(a.val_classes) | set(a.test_classes)
    assert every == set(range(12))  # disjoint and complete (5 + 3 + 4)
    assert a.train_classes != (0, 1, 2, 3, 4)  # drawn, not the first ones
    assert set(a.test_y.tolist()) == set(a.test_classes)
    assert len(a.train_y) == 50 and len(a.val_y) == 30 and len(a.test_y) == 40


def test_per_image_hold_out_keeps_two_of_each_small_class(glyphs: Path) -> None:
    data = load_run_data(_folder(glyphs, train_classes=8, val_fraction=0.1))  # 0.1 × 10 = 1
    per_class = torch.bincount(data.val_y, minlength=12)
    assert set(per_class[list(data.train_classes)].tolist()) == {2}
    assert set(torch.bincount(data.train_y, minlength=12)[list(data.train_classes)].tolist()) == {8}


def test_eval_ways_reads_an_int_or_a_list() -> None:
    assert config_from_dict({"eval": {"ways": [5, 20]}}).eval.ways == (5, 20)
    assert config_from_dict({"eval": {"ways": 5}}).eval.ways == 5
    assert apply_overrides(RunConfig(), ["eval.ways=[5, 20]"]).eval.ways == (5, 20)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"data": {"train_classes": []}}, "data.train_classes is empty"),
        ({"data": {"train_classes": 1}}, "data.train_classes = 1"),
        ({"eval": {"ways": []}}, "eval.ways = ()"),
        ({"eval": {"ways": [5, 1]}}, "eval.ways = (5, 1)"),
        ({"eval": {"shots": []}}, "eval.shots = []"),
        (
            {"data": {"train_classes": None, "val_classes": [1, 2]}},
            "validation classes would be test classes",
        ),
        ({"data": {"val_classes": []}}, "data.val_classes is empty"),
        ({"data": {"val_classes": [6, 7]}}, "must never be test classes"),
    ],
)
def test_bad_class_lists_are_refused_by_key(doc: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        config_from_dict(doc)


def test_too_many_drawn_classes_name_the_key(glyphs: Path) -> None:
    with pytest.raises(ValueError, match=r"data\.train_classes = 12 leaves none"):
        load_run_data(_folder(glyphs, train_classes=12))


def test_a_validation_split_without_pairs_is_refused_by_key(tmp_path: Path) -> None:
    root = write_glyph_folder(tmp_path / "three", 6, per_class=3, size=16)
    with pytest.raises(
        ValueError, match=r"data.val_fraction = 0.4 leaves no validation class with 2"
    ):
        load_run_data(_folder(root, train_classes=4, val_fraction=0.4))  # 1 of 3 images each
    with pytest.raises(ValueError, match=r"training split .* has no class with 2 images"):
        load_run_data(_folder(root, train_classes=4, val_fraction=0.5))  # 2 held, 1 kept


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    from siamkit.experiment import run_experiment

    root = write_glyph_folder(tmp_path / "three", 6, per_class=3, size=16)
    cfg = RunConfig(data=_folder(root, train_classes=4, val_fraction=0.4))
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"data\.val_fraction"):
        run_experiment(cfg, out, progress=False, log=lambda _s: None)
    assert not out.exists()


def test_a_held_out_test_share_without_pairs_names_a_count_of_training_classes(
    tmp_path: Path,
) -> None:
    """data.train_classes: null on a folder of 3 images a class tests 1 image of each, and was
    refused by the evaluation ('give the classes more images'); testing whole classes, with a
    count of training classes, is the way out with these images."""
    root = write_glyph_folder(tmp_path / "three", 9, per_class=3, size=16)
    with pytest.raises(ValueError) as err:
        load_run_data(_folder(root, train_classes=None))
    assert str(err.value) == (
        "data.train_classes = null tests a held-out 30% of each class, which leaves no class 2 "
        "test images (classes of at most 3 images), and testing compares images of a class; "
        "name a count of classes to train on instead, e.g. --set data.train_classes=6, and the "
        "other classes are tested whole"
    )
    assert len(load_run_data(_folder(root, train_classes=6)).test_classes) == 3


def test_validation_classes_of_one_image_are_named_with_the_fix_that_helps(
    tmp_path: Path,
) -> None:
    """Whole validation classes of one image each were told to 'hold out more images, or whole
    classes with data.val_classes', the key they were held out with; the refusal now names
    them and asks for classes of 2 or more images."""
    from PIL import Image

    root = write_glyph_folder(tmp_path / "glyphs", 6, per_class=4, size=16)
    for k in range(3):  # three more classes of one image each: 6, 7, 8 in name order
        one = root / f"zz{k}"
        one.mkdir()
        Image.new("L", (16, 16), 40 * k).save(one / "0.png")
    with pytest.raises(ValueError) as err:
        load_run_data(_folder(root, train_classes=(0, 1, 2, 6, 7, 8), val_classes=(6, 7, 8)))
    assert str(err.value) == (
        "data.val_classes = [6, 7, 8] leaves no validation class with 2 images (3 images): "
        "validation and the threshold need same-class pairs, and the classes it holds out "
        "(zz0, zz1, zz2) have 1 image each: hold out classes of 2 or more images"
    )
    ok = load_run_data(_folder(root, train_classes=(0, 1, 2, 6, 7, 8), val_classes=(0, 1)))
    assert ok.val_classes == (0, 1) and set(ok.val_y.tolist()) == {0, 1}
