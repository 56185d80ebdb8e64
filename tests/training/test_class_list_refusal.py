"""A class list given by folder name (as evaluate's --classes takes it) is refused in a sentence
that says what the config's class lists hold: ids, or a count."""

from __future__ import annotations

import re

import pytest

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
            "data.val_classes must be a list of int or int or null, got 'twenty'",
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
