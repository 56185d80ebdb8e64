"""The test tree runs in any selection of folders: ``pytest tests/index tests/service`` must not
pick up another folder's helpers. Test folders are not packages, so pytest imports every
``conftest.py`` and helper module by its bare name; two modules of one name, or an import of
``conftest`` itself, resolve to whichever folder was loaded first."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def conftest_imports(root: Path = TESTS) -> list[str]:
    """``file:line`` of every ``import conftest`` / ``from conftest import`` under ``root``."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if "conftest" in names:
                bad.append(f"{path.relative_to(root)}:{node.lineno}")
    return bad


def repeated_helper_names(root: Path = TESTS) -> list[str]:
    """Helper module names (not tests, not conftest) that stand in more than one test folder."""
    names = Counter(
        p.name
        for p in root.rglob("*.py")
        if not p.name.startswith("test_") and p.name not in {"conftest.py", "__init__.py"}
    )
    return sorted(n for n, c in names.items() if c > 1)


def test_no_test_imports_conftest() -> None:
    assert conftest_imports() == []


def test_helper_module_names_are_unique() -> None:
    assert repeated_helper_names() == []


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "test_x.py").write_text("from conftest import make_model\n")
    (tmp_path / "a" / "_helpers.py").write_text("")
    (tmp_path / "b" / "_helpers.py").write_text("import conftest\n")
    assert conftest_imports(tmp_path) == ["a/test_x.py:1", "b/_helpers.py:1"]
    assert repeated_helper_names(tmp_path) == ["_helpers.py"]
