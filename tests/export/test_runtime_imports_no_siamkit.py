"""runtime.py is copied alone beside the exported .onnx files on a device that has numpy and
onnxruntime only: it may import nothing of siamkit. 45e5edd3 gave it
``from siamkit.clauses import in_number`` for one refusal's plural, which a copied file cannot
import where siamkit is not installed (test_runtime's run of the copy found siamkit installed)."""

from __future__ import annotations

import ast
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "src" / "siamkit" / "export" / "runtime.py"


def test_the_runtime_file_imports_nothing_of_siamkit() -> None:
    found = []
    for node in ast.walk(ast.parse(RUNTIME.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [f"{node.lineno}: {n}" for n in names if n.split(".")[0] == "siamkit"]
    assert found == []
