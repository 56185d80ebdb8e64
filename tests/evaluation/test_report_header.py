"""The report header's run line: the run's classes as its output names them, and what it
validated on."""

from __future__ import annotations

from siamkit.evaluation.report_sections import run_line


def test_the_header_names_the_classes_and_the_validation_classes() -> None:
    """A folder run's header read 'classes [0, 2, 3, ...]' (80 ids) where its output named the
    sub-folders, and said nothing of its validation classes: it names both now (the first ten
    and 'and N more'), or says the run validated on images of its training classes."""
    names = [f"part_{i:03d}" for i in range(120)]
    train, val = list(range(0, 80)), list(range(80, 100))
    info = {"train_images": 480, "train_classes": train, "class_names": names,
            "val_classes": val, "val_held_out": "classes", "hardware": "test"}  # fmt: skip
    line = run_line(info)
    assert line.startswith(
        f"trained on 480 images of 80 classes ({', '.join(names[:10])} and 70 more) · "
        f"validated on 20 other classes ({', '.join(names[80:90])} and 10 more) · "
    ), line
    per_image = run_line({**info, "val_classes": train, "val_held_out": "images"})
    assert " · validated on held-out images of the training classes · " in per_image
    assert " · no validation images · " in run_line({**info, "val_held_out": "none"})
    # ids where the data set's names are not known; nothing of validation not recorded
    old = run_line({"train_images": 480, "train_classes": [0, 2, 3], "hardware": "test"})
    assert old == "trained on 480 images of 3 classes (0, 2, 3) · test"


def test_the_header_escapes_class_names() -> None:
    line = run_line({"train_classes": [0], "class_names": ["<b>"], "hardware": "test"})
    assert line == "trained on 1 class (&lt;b&gt;) · test"
