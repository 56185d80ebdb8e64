"""A kind registered as a "module:Class" string counts as a model once its module is imported."""

from __future__ import annotations

import importlib
import sys

from torch import nn

from siamkit.models import kinds


def test_lazy_kind_counts_once_its_module_is_loaded(tmp_path, monkeypatch):
    (tmp_path / "lazy_kind_mod.py").write_text(
        "from torch import nn\n\nclass Lazy(nn.Module):\n    kind = 'lazy-test'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(kinds._KINDS, "lazy-test", "lazy_kind_mod:Lazy")
    assert not kinds.is_model(nn.Linear(1, 1))
    assert "lazy_kind_mod" not in sys.modules  # is_model did not import it
    module = importlib.import_module("lazy_kind_mod")
    try:
        assert kinds.is_model(module.Lazy())
    finally:
        sys.modules.pop("lazy_kind_mod", None)
