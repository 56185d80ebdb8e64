"""The report header's run line counts in the number a count takes, with the thousands
separator every message writes: a run of one image said "trained on 1 images", and 1,000
classes "of 1000 classes" (s60 final note, Counts: plurals built with 's' * (k != 1)). The run
record is built directly."""

from __future__ import annotations

from siamkit.evaluation.report_sections import run_line


def test_one_image_is_one_image() -> None:
    info = {"train_images": 1, "train_classes": [0], "class_names": ["a"], "hardware": "test"}
    assert run_line(info) == "trained on 1 image of 1 class (a) · test"


def test_a_thousand_classes_are_written_with_the_separator() -> None:
    info = {
        "train_images": 2000,
        "train_classes": list(range(1000)),
        "val_classes": list(range(1000, 2000)),
        "val_held_out": "classes",
    }
    line = run_line(info)
    assert line.startswith("trained on 2,000 images of 1,000 classes (0, 1, ")
    assert " · validated on 1,000 other classes (1000, 1001, " in line
