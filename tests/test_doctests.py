"""Every docstring example in siamkit runs and shows what the code gives (``+SKIP`` ones aside).

What ``pytest --doctest-modules src/siamkit`` does, in the normal suite: one test per module, with
ELLIPSIS and NORMALIZE_WHITESPACE, run from an empty folder. A module whose import needs an
optional package that is not installed is skipped, naming the package; any other import error
fails.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
import types
from pathlib import Path

import pytest

import siamkit

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def module_names(package: types.ModuleType = siamkit) -> list[str]:
    """``package`` and all its modules and subpackages, ``__main__`` aside (importing it runs the CLI)."""
    names = [package.__name__]
    # a subpackage that fails to import is still listed; its own test reports why
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".", lambda _: None):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            names.append(info.name)
    return sorted(names)


def import_or_skip(name: str) -> types.ModuleType:
    """The module ``name``; a skip when its import needs a package that is not installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        missing = (e.name or "").split(".")[0]
        if missing and missing != "siamkit" and importlib.util.find_spec(missing) is None:
            pytest.skip(f"{name} needs the optional package {missing!r}, which is not installed")
        raise


def doctest_failures(module: types.ModuleType) -> list[str]:
    """doctest's report of each docstring of ``module`` with a failing example (empty if none)."""
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    failures = []
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, module.__name__):
        out: list[str] = []
        if runner.run(test, out=out.append, clear_globs=True).failed:
            failures.append("".join(out))
    return failures


@pytest.mark.parametrize("name", module_names())
def test_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = import_or_skip(name)
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    failures = doctest_failures(module)
    if failures:
        pytest.fail(f"docstring examples of {name} fail:\n" + "\n".join(failures), pytrace=False)


def test_the_check_catches_a_wrong_example() -> None:
    module = types.ModuleType("fake_module")
    module.__doc__ = """
    >>> 1 + 1
    3
    >>> open("no/such/file")  # doctest: +SKIP
    >>> list(range(30))
    [0, 1, ..., 29]
    """
    (failure,) = doctest_failures(module)
    assert "Failed example:\n    1 + 1\nExpected:\n    3\nGot:\n    2\n" in failure
    assert "range" not in failure  # ELLIPSIS


def test_only_a_missing_optional_package_skips() -> None:
    with pytest.raises(pytest.skip.Exception, match="'siamkit_no_such_package'"):
        import_or_skip("siamkit_no_such_package.module")
    with pytest.raises(ModuleNotFoundError):
        import_or_skip("siamkit.no_such_module")
    assert "siamkit.registry" in module_names()
    assert "siamkit.__main__" not in module_names()
