"""The import direction of ARCHITECTURE.md, checked on the source (every import statement,
inside functions too): a layer imports only layers below it, never the shells or applications;
below the applications, never the top-level ``siamkit`` package (it imports them: a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "siamkit"

#: A package or module of siamkit -> its layer; a layer imports only lower layers (or itself).
LAYERS: dict[str, int] = {
    "types": 0, "registry": 0, "atomic": 0, "_version": 0, "distributed": 0,
    "model_protocol": 0, "progress": 0, "image_decode": 0, "params": 0, "decision": 0,
    "clauses": 0, "text_names": 0,
    "launch_env": -1,  # below distributed, which reads it
    "distances": 1, "encoders": 1, "heads": 1, "data": 1, "encode": 1,
    "miners": 2, "models": 2,
    "losses": 3, "evaluation": 3, "index": 3, "export": 3,
    "training": 4,
    "experiment": 5, "tuning": 5,
    "applications": 6,
    "service": 7,
    "cli": 8,
}  # fmt: skip


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every absolute siamkit import in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return [(line, m) for line, m in out if m == "siamkit" or m.startswith("siamkit.")]


def violations(src: Path = SRC) -> list[str]:
    """Every import that goes against :data:`LAYERS`, as ``file:line: a -> b``."""
    bad = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if rel.parts[0] in ("__init__.py", "__main__.py"):
            continue  # the package's face and the entry point may import anything
        own = rel.parts[0].removesuffix(".py")
        if own not in LAYERS:
            bad.append(f"{rel}: the package {own!r} has no layer in ARCHITECTURE.md")
            continue
        for line, module in _imports(path):
            parts = module.split(".")
            if len(parts) == 1 and LAYERS[own] < LAYERS["applications"]:
                bad.append(f"{rel}:{line}: imports the top-level siamkit package (an import cycle)")
                continue
            other = parts[1] if len(parts) > 1 else own
            if other == own:
                continue
            if other not in LAYERS or LAYERS[other] >= LAYERS[own]:
                bad.append(f"{rel}:{line}: {own} (layer {LAYERS[own]}) imports {module}")
    return bad


def test_layers_import_only_lower_layers() -> None:
    assert violations() == []


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    (tmp_path / "losses").mkdir()
    (tmp_path / "losses" / "x.py").write_text("def f():\n    from siamkit.cli import main\n")
    (tmp_path / "applications").mkdir()
    (tmp_path / "applications" / "y.py").write_text("import siamkit.service.app\n")
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "z.py").write_text("import siamkit\n")
    assert violations(tmp_path) == [
        "applications/y.py:1: applications (layer 6) imports siamkit.service.app",
        "index/z.py:1: imports the top-level siamkit package (an import cycle)",
        "losses/x.py:2: losses (layer 3) imports siamkit.cli",
    ]
