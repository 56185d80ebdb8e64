"""A script of benchmarks/ (a folder of scripts, not a package) loaded as a module, for the
tests of this folder."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str, as_name: str | None = None) -> ModuleType:
    """benchmarks/``name``.py executed as a new module named ``as_name`` (default ``name``),
    with benchmarks/ on ``sys.path`` for the scripts it imports, and in ``sys.modules`` under
    that name (a dataclass looks its module up while being built)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(as_name or name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod
