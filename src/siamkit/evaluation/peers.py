"""The peer's figures on the fmnist-disjoint protocol, from one data file the benchmark writes.

``peers.json`` (next to this module, so it ships with the package) is written by
``benchmarks/bench_fmnist.py --write-peers``: per class split, the mean and standard deviation
over seeds of every pytorch-metric-learning recipe that ran. ``siamkit demo`` and its report
read it instead of keeping figures of their own.

>>> peer_figures("fashion-mnist", (0, 1, 2, 3, 4, 5))["metrics"]["EER"]  # doctest: +SKIP
0.2
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from siamkit.atomic import atomic_write

PEERS_FILE = Path(__file__).with_name("peers.json")
LOWER_IS_BETTER = ("EER",)


def split_key(train_classes: Sequence[int]) -> str:
    """``(0, 1, 2)`` -> ``"0,1,2"``, the file's key of a class split."""
    return ",".join(str(int(c)) for c in sorted(train_classes))


def load_peers(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The whole file (``{}`` when there is none)."""
    p = Path(path) if path is not None else PEERS_FILE
    if not p.is_file():
        return {}
    doc = json.loads(p.read_text())
    if not isinstance(doc, dict):
        raise ValueError(f"{p} is not a peers file (expected a JSON object)")
    return doc


def peer_figures(
    dataset: str, train_classes: Sequence[int], path: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The best peer recipe per metric on this split: ``{"label", "source", "metrics"}``.

    ``metrics`` maps ``"1-shot"``, ``"5-shot"``, ``"EER"``, ``"ROC AUC"``, ``"P@1"``,
    ``"MAP@R"`` to the mean over seeds of the recipe best at that metric. ``None`` when the file
    has no figures for this dataset and split.
    """
    doc = load_peers(path)
    if doc.get("dataset") != dataset:
        return None
    split = (doc.get("splits") or {}).get(split_key(train_classes))
    if not split:
        return None
    recipes: Mapping[str, Any] = split["recipes"]
    columns = {c for r in recipes.values() for c in r["mean"]}
    best: dict[str, float] = {}
    for col in sorted(columns):
        values = [r["mean"][col] for r in recipes.values() if col in r["mean"]]
        best[col] = min(values) if col in LOWER_IS_BETTER else max(values)
    names = ", ".join(recipes)
    seeds = sorted({s for r in recipes.values() for s in r.get("seeds", [])})
    return {
        "label": f"best PML peer ({names})" if len(recipes) > 1 else f"PML peer ({names})",
        "source": (
            f"pytorch-metric-learning recipes on the same split and evaluation, mean over seeds "
            f"{seeds}, from benchmarks/bench_fmnist.py ({split.get('date', 'undated')}): "
            f"{split.get('command', '')}"
        ),
        "metrics": best,
    }


def record_peers(
    rows: Mapping[str, Sequence[Mapping[str, float]]],
    dataset: str,
    train_classes: Sequence[int],
    seeds: Sequence[int],
    command: str,
    date: str,
    path: str | os.PathLike[str] | None = None,
) -> Path:
    """Store ``rows`` (``{recipe: [one dict of metrics per seed]}``) for this split, atomically."""
    import numpy as np

    p = Path(path) if path is not None else PEERS_FILE
    doc = load_peers(p) or {"dataset": dataset, "splits": {}}
    if doc.get("dataset") != dataset:
        raise ValueError(f"{p} holds {doc.get('dataset')} figures, not {dataset}")
    recipes = {
        name: {
            "seeds": list(seeds)[: len(runs)],
            "mean": {k: round(float(np.mean([r[k] for r in runs])), 4) for k in _metrics(runs)},
            "std": {
                k: round(float(np.std([r[k] for r in runs], ddof=1)), 4) for k in _metrics(runs)
            }
            if len(runs) > 1
            else {},
        }
        for name, runs in rows.items()
    }
    doc["splits"][split_key(train_classes)] = {
        "recipes": recipes,
        "command": command,
        "date": date,
    }
    return atomic_write(p, json.dumps(doc, indent=2) + "\n")


def _metrics(runs: Sequence[Mapping[str, float]]) -> list[str]:
    """The metric columns of benchmark rows (wall times are not figures to compare)."""
    return [k for k in runs[0] if not k.endswith(" s")]
