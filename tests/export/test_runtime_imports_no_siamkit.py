"""runtime.py is copied alone beside the exported .onnx files on a device that has numpy and
onnxruntime only: it may import nothing of siamkit. 45e5edd3 gave it
``from siamkit.clauses import in_number`` for one refusal's plural, which a copied file cannot
import where siamkit is not installed (test_runtime's run of the copy found siamkit installed).
A relative import (``from ..clauses import in_number``) breaks the copy just the same: the AST
check read only ``node.module`` ("clauses" there) and let it through, so both checks below see
it, and the second imports a copy as such a device does."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "src" / "siamkit" / "export" / "runtime.py"


def test_the_runtime_file_imports_nothing_of_siamkit() -> None:
    found = []
    for node in ast.walk(ast.parse(RUNTIME.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:  # relative: a package's own
            names = ["." * node.level + (node.module or "")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [
            f"{node.lineno}: {n}"
            for n in names
            if n.startswith(".") or n.split(".")[0] == "siamkit"
        ]
    assert found == []


def test_a_copy_of_the_runtime_file_imports_where_siamkit_cannot_be(tmp_path: Path) -> None:
    shutil.copy(RUNTIME, tmp_path / "runtime.py")
    code = (
        "import sys; sys.modules['siamkit'] = None; sys.path.insert(0, sys.argv[1]); "
        "import runtime; print('imported', runtime.__file__)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("imported ") and str(tmp_path) in res.stdout
