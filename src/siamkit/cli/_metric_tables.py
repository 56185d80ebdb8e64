"""The printed tables of metrics: the headline and retrieval rows of a ``metrics.json`` dict,
and the line under a table whose TAR@FAR rows show "-" for too few impostor pairs."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from siamkit.clauses import in_number, listed


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def metric_cell(value: Any) -> str:
    """A metric's value in a printed table: 4 decimals, and "-" for one not measured (None)."""
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def metrics_table(
    rows: Sequence[tuple[str, Any]],
    verification: dict[str, Any],
    header: tuple[str, str] = ("metric", "value"),
) -> str:
    """``rows`` of (name, value) as a printed table, followed by why a TAR@FAR shows "-" when
    ``verification``'s impostor pairs are too few to measure it (:func:`unresolved_far_note`)."""
    table = format_table([(name, metric_cell(v)) for name, v in rows], header)
    shown = [name.split("=", 1)[1] for name, _ in rows if name.startswith("TAR@FAR=")]
    note = unresolved_far_note(verification, shown)
    return table if note is None else f"{table}\n{note}"


#: The FAR of :func:`headline_rows`' one TAR@FAR row, as ``metrics.json`` keys it (the JSON
#: keeps every FAR measured).
HEADLINE_FAR = "0.001"


def headline_rows(metrics: dict[str, Any]) -> list[tuple[str, float | None]]:
    """(name, value) of the headline metrics in a ``metrics.json`` dict."""
    fs = metrics.get("few_shot", {})
    ver, ret = metrics.get("verification", {}), metrics.get("retrieval", {})
    rows: list[tuple[str, float | None]] = [
        (f"{k.replace('way', '-way ').replace('shot', '-shot')}", v["accuracy"])
        for k, v in fs.items()
    ]
    rows += [
        ("EER", ver.get("eer")),
        ("ROC AUC", ver.get("roc_auc")),
        ("TAR@FAR=1e-3", _resolved(ver, HEADLINE_FAR)),
        ("P@1", ret.get("precision_at_1")),
        ("MAP@R", ret.get("map_at_r")),
    ]
    return rows


#: The ranking and clustering metrics of a ``metrics.json`` retrieval section beyond the
#: headline P@1 and MAP@R, as printed by ``siamkit evaluate`` (NMI/AMI only when computed).
RETRIEVAL_ROWS = (
    ("R-precision", "r_precision"),
    ("MAP (all ranks)", "mean_average_precision"),
    ("MRR", "mean_reciprocal_rank"),
    ("NMI (k-means)", "nmi"),
    ("AMI (k-means)", "ami"),
)


def retrieval_rows(metrics: dict[str, Any]) -> list[tuple[str, float | None]]:
    """(name, value) of the retrieval metrics :func:`headline_rows` leaves out (R-precision, MAP
    over all ranks, MRR, and NMI/AMI when clustering was computed): those ``metrics`` holds."""
    ret = metrics.get("retrieval") or {}
    return [(name, ret[key]) for name, key in RETRIEVAL_ROWS if key in ret]


def _resolved(ver: dict[str, Any], far: str) -> float | None:
    """``ver``'s TAR at ``far``, or None where its impostor pairs are too few to measure it."""
    from siamkit.evaluation.verification import far_resolved

    value = ver.get("tar_at_far", {}).get(far)
    return value if far_resolved(float(far), ver.get("n_impostor")) else None


def unresolved_far_note(ver: dict[str, Any], shown: Iterable[str] = (HEADLINE_FAR,)) -> str | None:
    """The line printed under a table whose TAR@FAR rows show "-" for too few impostor pairs;
    ``shown``: the FARs the table has rows for (``"1e-3"`` or ``"0.001"``; by default
    :func:`headline_rows`' one), so the line names no FAR the table leaves out."""
    from siamkit.evaluation.verification import far_resolved

    n = ver.get("n_impostor")
    rows = {float(f) for f in shown}
    fars = sorted(
        (
            float(f)
            for f in ver.get("tar_at_far", {})
            if float(f) in rows and not far_resolved(float(f), n)
        ),
        reverse=True,
    )
    if not fars or n is None:
        return None
    rates = [f"{f:.0e}".replace("e-0", "e-") for f in fars]
    names = listed([f"TAR@FAR={rate}" for rate in rates])
    # each need beside its rate: "(100, 1,000 and 10,000)" read the counts' separators as the
    # list's commas (s63_r5 finding 3)
    needs = listed([f"{math.ceil(1 / f):,} for {rate}" for f, rate in zip(fars, rates)])
    return (
        f"{names}: not measured. A false-accept rate of f needs at least 1/f impostor pairs "
        f"({needs}), and these are {n:,}; the JSON keeps the {in_number(len(fars), 'value')}."
    )
