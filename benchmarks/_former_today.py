"""The two routes of a "former vs today" benchmark, each in a process of its own, side by side.

A benchmark script that prints one JSON line per ``--variant former|today`` run of itself (with at
least ``wall``, ``cpu``, ``sha`` and ``threads``) calls :func:`run_both` and :func:`print_side_by_side`
(bench_sampled_pairs.py, bench_few_shot_episodes.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

VARIANTS = ("former", "today")


def run_both(script: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``script`` with this process's arguments plus ``--variant former``, then ``today``,
    each in a new process; their last JSON lines."""
    rows = {}
    for variant in VARIANTS:
        cmd = [sys.executable, script, *sys.argv[1:], "--variant", variant]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows[variant] = json.loads(out.strip().splitlines()[-1])
    return rows["former"], rows["today"]


def print_side_by_side(
    title: str, f: dict[str, Any], t: dict[str, Any], peak_mb: bool = False
) -> None:
    """The table: ``title``, wall s and CPU-s of both with the ratio (former / today), peak MB
    where measured, and whether the values were bit-identical (one sha256 each)."""
    print(f"{title}, torch threads {f['threads']}")
    print(f"{'':10} {'former':>9} {'today':>9} {'x':>6}")
    for key, unit in (("wall", "s"), ("cpu", "CPU-s")):
        print(
            f"{key + ' ' + unit:10} {f[key]:9.2f} {t[key]:9.2f} {f[key] / max(t[key], 1e-9):6.1f}"
        )
    if peak_mb:
        print(f"{'peak MB':10} {f['peak_mb']:9.1f} {t['peak_mb']:9.1f}")
    print("values:", "identical" if f["sha"] == t["sha"] else "DIFFER", f"(sha256 {t['sha'][:16]})")
