"""The Makefile's ``.PHONY`` names only targets it defines (``bench`` was listed with no rule, so
``make bench`` answered 'No rule to make target' though the file seemed to offer it)."""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def test_every_phony_name_has_a_target() -> None:
    text = MAKEFILE.read_text()
    phony = re.search(r"^\.PHONY:(.*)$", text, re.M)
    assert phony is not None
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", text, re.M))
    assert [name for name in phony.group(1).split() if name not in targets] == []
