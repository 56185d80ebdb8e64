"""The ``siamkit.applications.ssl`` package: a docstring and an ``__all__`` like its siblings',
whose names are those of its modules, imported only when first used."""

from __future__ import annotations

import importlib
import subprocess
import sys


def test_the_package_names_its_public_api() -> None:
    ssl = importlib.import_module("siamkit.applications.ssl")
    assert ssl.__doc__ and ssl.__doc__.startswith("Self-supervised Siamese learning")
    assert sorted(ssl.__all__) == sorted(set(ssl.__all__)) == sorted(dir(ssl))
    for name in ssl.__all__:
        obj = getattr(ssl, name)
        if hasattr(obj, "__module__"):  # a class or function; METHODS, EMBEDS are tuples
            assert obj.__module__.startswith("siamkit.applications.ssl."), name
            assert getattr(importlib.import_module(obj.__module__), name) is obj, name
    from siamkit.applications.ssl.methods import METHODS
    from siamkit.applications.ssl.task import run

    assert ssl.run is run and ssl.METHODS is METHODS


def test_importing_the_package_loads_none_of_its_modules() -> None:
    """The docstring's promise: ``import siamkit.applications.ssl`` loads nothing more."""
    code = (
        "import sys, siamkit.applications.ssl as s; "
        "print(sorted(m for m in sys.modules if m.startswith(s.__name__ + '.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
