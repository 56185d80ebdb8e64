"""``help(siamkit)`` is where a notebook user starts: every ``siamkit.…`` name its docstring
points to exists, so a rename cannot leave it pointing at nothing."""

from __future__ import annotations

import importlib
import re

import siamkit


def test_every_name_the_package_docstring_gives_resolves() -> None:
    names = set(re.findall(r"``(siamkit(?:\.\w+)+)", siamkit.__doc__ or ""))
    assert len(names) >= 10, names
    for name in sorted(names):
        obj: object = importlib.import_module("siamkit")
        for part in name.split(".")[1:]:
            obj = getattr(obj, part)
        assert obj is not None, name
