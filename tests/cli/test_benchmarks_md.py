"""BENCHMARKS.md records each figure with the command that measures it; the scripts and the CLI
change between stops. The scripts it names must still exist, and its `siamkit ...` lines must use
options their command still has (the same check as the README's, ``unknown_options``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_help_texts import unknown_options

ROOT = Path(__file__).resolve().parents[2]


def command_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, command)`` of every shell line in fenced blocks, indented code lines and
    inline code spans; a line ending in a backslash is joined to the next."""
    found: list[tuple[int, str]] = []
    lines = text.splitlines()
    inside, i = False, 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside or line.startswith("    "):
            number, command = i + 1, line.strip()
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            found.append((number, command))
        i += 1
    for span in re.finditer(r"(?<!`)`([^`]+)`(?!`)", text):
        found.append((text.count("\n", 0, span.start()) + 1, " ".join(span.group(1).split())))
    return found


def missing_scripts(text: str) -> list[str]:
    """The ``benchmarks/NAME.py`` (or ``.sh``) that the text names and the repository lacks,
    unless the mention says it was removed (``benchmarks/x.sh``, since removed)."""
    named = {
        m.group(0)
        for m in re.finditer(r"\bbenchmarks/[\w.-]+\.(?:py|sh)\b", text)
        if "removed" not in text[m.end() : m.end() + 30]
    }
    return sorted(name for name in named if not (ROOT / name).is_file())


def siamkit_unknown_options(text: str) -> list[str]:
    """``line N: command --option`` for each option a `siamkit ...` command line lacks."""
    return [
        f"line {number}: {bad}"
        for number, command in command_lines(text)
        for bad in unknown_options(command)
    ]


def script_unknown_options(text: str, help_of: Callable[[str, str | None], str]) -> list[str]:
    """``line N: script [sub] --option`` for each option a ``benchmarks/NAME.py`` line passes that the
    script's ``--help`` (its subcommand's, when the first word is one) does not list."""
    bad: list[str] = []
    for number, command in command_lines(text):
        for m in re.finditer(r"benchmarks/(\w+)\.py((?:\s+[^|;&#]*)?)", command):
            script, words = m.group(1), m.group(2).split()
            sub = words[0] if words and re.fullmatch(r"[a-z][a-z0-9-]*", words[0]) else None
            top = help_of(script, None)
            page = help_of(script, sub) if sub is not None and "{" in top and sub in top else top
            for word in words:
                if word.startswith("--") and word.split("=")[0] not in page:
                    bad.append(
                        f"line {number}: {script} {sub or ''} {word.split('=')[0]}".replace(
                            "  ", " "
                        )
                    )
    return bad


def _script_help(script: str, sub: str | None) -> str:
    args = [
        sys.executable,
        str(ROOT / "benchmarks" / f"{script}.py"),
        *([sub] if sub else []),
        "--help",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    return done.stdout + done.stderr


def _benchmarks_md() -> str:
    return (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")


def test_every_benchmark_script_named_exists() -> None:
    assert missing_scripts(_benchmarks_md()) == []


def test_every_siamkit_line_uses_options_the_command_has() -> None:
    text = _benchmarks_md()
    assert sum("siamkit " in c for _, c in command_lines(text)) > 50  # the lines were found
    assert siamkit_unknown_options(text) == []


def test_the_checks_catch_a_bad_line() -> None:
    planted = (
        "Run\n\n    nice python benchmarks/bench_nope.py --seeds 0\n\n"
        "```bash\nsiamkit train configs/demo.yaml \\\n    --out r --sett train.epochs=1\n```\n\n"
        "and `siamkit evaluate MODEL --jsn` on `benchmarks/bench_edge.py`\n"
        "(`benchmarks/bench_old.py`, since removed).\n"
    )
    assert missing_scripts(planted) == ["benchmarks/bench_nope.py"]
    assert siamkit_unknown_options(planted) == ["line 6: train --sett", "line 10: evaluate --jsn"]


@pytest.mark.slow  # runs each named script's --help (about 45 interpreters importing torch)
def test_every_benchmark_line_uses_options_its_script_has() -> None:
    text = _benchmarks_md() + (ROOT / "README.md").read_text(encoding="utf-8")
    cache: dict[tuple[str, str | None], str] = {}

    def help_of(script: str, sub: str | None) -> str:
        if (script, sub) not in cache:
            cache[script, sub] = _script_help(script, sub)
        return cache[script, sub]

    assert script_unknown_options(text, help_of) == []
    assert len(cache) > 20  # the lines were found


def test_the_script_option_check_catches_a_bad_line() -> None:
    pages = {
        ("bench_a", None): "usage: bench_a [--seeds SEEDS] [--json JSON]",
        ("bench_b", None): "usage: bench_b {speed,lee} ...",
        ("bench_b", "lee"): "usage: bench_b lee [--epochs EPOCHS]",
    }
    planted = (
        "    python benchmarks/bench_a.py --seeds 0 1 --json=x.json --sedes 2\n"
        "```bash\nPYTHONPATH=src python benchmarks/bench_b.py lee --epochs 1 --lr 3 | tee x\n```\n"
    )
    assert script_unknown_options(planted, lambda s, sub: pages[s, sub]) == [
        "line 1: bench_a --sedes",
        "line 3: bench_b lee --lr",
    ]
