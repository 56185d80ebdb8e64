"""class_list's "and N more" groups thousands, as the counts beside it do ("1,000 classes")."""

from __future__ import annotations

from siamkit.evaluation.report_sections import class_list


def test_the_classes_not_shown_are_counted_with_the_separator() -> None:
    names = [f"n{i:05d}" for i in range(21843)]  # an ImageNet-21k-sized folder of classes
    said = class_list(names, list(range(21843)))
    assert said == ", ".join(names[:10]) + " and 21,833 more"
    assert class_list(names, list(range(11))).endswith("n00009 and 1 more")
