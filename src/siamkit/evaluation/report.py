"""One self-contained ``report.html``: metrics tables, embedded PNG figures and the run's config.

No external JS, CSS or image files: figures are base64 ``data:`` URIs, styles are inline. The
file is written to a temporary sibling and renamed into place, so a reader never sees half a
report and an error leaves any previous report untouched.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from siamkit._version import __version__
from siamkit.clauses import counted, in_number, listed
from siamkit.distances import list_distances
from siamkit.evaluation._common import ArrayLike, DistanceLike, score_kind
from siamkit.evaluation.evaluate import EvaluationReport
from siamkit.evaluation.few_shot import FewShotReport
from siamkit.evaluation.verification import far_resolved

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:1.5rem;color:#222;background:#fafafa}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.3rem;margin-top:2rem}
.meta{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;background:#fff}
th,td{border:1px solid #ddd;padding:.35rem .7rem;text-align:left}th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;background:#fff;border:1px solid #ddd;padding:.5rem}
figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:.85rem;color:#555;margin-top:.3rem}
pre{background:#fff;border:1px solid #ddd;padding:.8rem;overflow:auto;font-size:.85rem}
nav a{margin-right:1rem}
"""


def _fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1e4 else f"{value:,.0f}"


def _table(rows: Sequence[tuple[str, str]], header: tuple[str, str] = ("Metric", "Value")) -> str:
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='num'>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return f"<table><tr><th>{header[0]}</th><th>{header[1]}</th></tr>{body}</table>"


def ways_asked_of(doc: Mapping[str, Any]) -> dict[str, list[int]]:
    """``{few-shot key: the N asked}`` of the few-shot entries of evaluation document ``doc``
    (``metrics.json``, evaluate's ``--json``) that carry ``n_way_asked``: an N-way asked above
    the evaluated classes, which ran as all of them.

    >>> ways_asked_of({"few_shot": {"3way1shot": {"n_way": 3, "n_way_asked": [5]}}})
    {'3way1shot': [5]}
    """
    return {
        key: list(entry["n_way_asked"])
        for key, entry in doc.get("few_shot", {}).items()
        if entry.get("n_way_asked")
    }


def _asked_note(asked: Sequence[int] | None, n_way: int) -> str:
    """``"; 5-way asked, but only 3 classes are evaluated"`` for a few-shot row that ran as all
    ``n_way`` evaluated classes in place of the N-way ``asked``; ``""`` for one that ran as
    asked."""
    if not asked:
        return ""
    ways = listed([f"{n:,}-way" for n in asked])
    return f"; {ways} asked, but only {n_way:,} classes are evaluated"


def _drawn_note(r: FewShotReport, n_classes: int) -> str:
    """``"; drawn from 4 of 5 classes: 1 has fewer than 16 items"`` for a few-shot row whose
    episodes left out classes too small for them; ``""`` where every class could be drawn."""
    if r.classes_drawn is None or r.classes_drawn >= n_classes:
        return ""
    short = n_classes - r.classes_drawn
    return (
        f"; drawn from {r.classes_drawn:,} of {n_classes:,} classes: {short:,} "
        f"{in_number(short, 'has', 'have')} fewer than {counted(r.k_shot + r.n_query, 'item')}"
    )


def metrics_tables(
    report: EvaluationReport, ways_asked: Mapping[str, Sequence[int]] | None = None
) -> str:
    """HTML tables of the verification, few-shot and retrieval metrics; ``ways_asked``
    (``{few-shot key: [N, ...]}``, see :func:`ways_asked_of`) marks the few-shot rows that ran as
    all the evaluated classes in place of the N-way asked."""
    asked = ways_asked or {}
    parts = []
    v = report.verification
    if v is not None:
        rows = [
            ("ROC AUC", _fmt(v.roc_auc)),
            ("EER", _fmt(v.eer)),
            (f"EER threshold ({score_kind(report.distance)})", _fmt(v.eer_threshold)),
            *[
                (
                    f"TAR @ FAR = {f:g}",
                    _fmt(t)
                    if far_resolved(f, v.n_impostor)
                    else f"not measured (needs {math.ceil(1 / f):,} impostor pairs or more)",
                )
                for f, t in v.tar_at_far.items()
            ],
            ("best balanced accuracy (as models decide)", _fmt(v.best_accuracy)),
            ("best-accuracy threshold (calibrate --target accuracy's)", _fmt(v.best_threshold)),
            ("pairs (genuine / impostor)", f"{v.n_genuine:,} / {v.n_impostor:,}"),
        ]
        parts.append("<h3>Verification (all pairs)</h3>" + _table(rows))
    if report.few_shot:
        rows = [
            (
                f"{r.n_way:,}-way {r.k_shot:,}-shot ({counted(r.episodes, 'episode')}, "
                f"{counted(r.n_query, 'query', 'queries')}/class{_asked_note(asked.get(key), r.n_way)}"
                f"{_drawn_note(r, report.n_classes)})",
                f"{r.accuracy:.4f} ± {r.ci95:.4f}",
            )
            for key, r in report.few_shot.items()
        ]
        parts.append(
            "<h3>Few-shot (nearest prototype)</h3>" + _table(rows, ("Setting", "Accuracy ± 95% CI"))
        )
    ret = report.retrieval
    if ret is not None:
        rows = [("Precision@1", _fmt(ret.precision_at_1)), ("MAP@R", _fmt(ret.map_at_r))]
        rows += [(f"Recall@{k}", _fmt(x)) for k, x in ret.recall_at_k.items()]
        rows += [
            ("R-precision", _fmt(ret.r_precision)),
            ("MAP (all ranks)", _fmt(ret.mean_average_precision)),
            ("MRR", _fmt(ret.mean_reciprocal_rank)),
        ]
        if ret.nmi is not None and ret.ami is not None:
            rows += [("NMI (k-means)", _fmt(ret.nmi)), ("AMI (k-means)", _fmt(ret.ami))]
        rows.append(("queries", f"{ret.n_queries:,}"))
        parts.append("<h3>Retrieval (leave-one-out)</h3>" + _table(rows))
    return "".join(parts)


def _headline(report: EvaluationReport) -> list[tuple[str, str]]:
    """(column, value) of the headline metrics of one report."""
    cells = [
        (f"{r.n_way:,}-way {r.k_shot:,}-shot", f"{r.accuracy:.3f}")
        for r in report.few_shot.values()
    ]
    if report.verification is not None:
        cells += [
            ("EER", f"{report.verification.eer:.3f}"),
            ("ROC AUC", f"{report.verification.roc_auc:.3f}"),
        ]
    if report.retrieval is not None:
        cells += [
            ("P@1", f"{report.retrieval.precision_at_1:.3f}"),
            ("MAP@R", f"{report.retrieval.map_at_r:.3f}"),
        ]
    return cells


def ablation_table(report: EvaluationReport, parts: Mapping[str, EvaluationReport]) -> str:
    """One row per embedding (the full model first, then each part on its own), same metrics."""
    rows = [("full model", _headline(report))] + [(k, _headline(r)) for k, r in parts.items()]
    header = "".join(f"<th>{html.escape(c)}</th>" for c, _ in rows[0][1])
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td class='num'>{html.escape(v)}</td>" for _, v in cells)
        + "</tr>"
        for name, cells in rows
    )
    note = (
        "<p>The same evaluation on each part of the embedding. Where a part alone comes close to "
        "the full model, most of the result on these classes comes from that part.</p>"
    )
    return f"{note}<table><tr><th>embedding</th>{header}</tr>{body}</table>"


def config_text(config: Any) -> str:
    """A config (mapping, dataclass or string) as YAML text, or JSON if YAML cannot hold it."""
    if isinstance(config, str):
        return config
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    try:
        import yaml

        return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    except Exception:  # non-YAML values (paths, tuples of objects...): fall back to JSON
        return json.dumps(config, indent=2, default=str)


def _figure_html(fig: Any, caption: str, fig_id: str) -> str:
    from siamkit.evaluation.plots import figure_to_png

    data = base64.b64encode(figure_to_png(fig)).decode("ascii")
    alt = html.escape(caption)
    return (
        f"<figure id='{fig_id}'><img alt='{alt}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{alt}</figcaption></figure>"
    )


Section = tuple[str, str, str]  # (element id, heading, inner HTML)


def _training_section(
    history: Sequence[Mapping[str, Any]], names: Mapping[str, str] | None = None
) -> Section:
    """The ``training`` section: the loss and each validation figure per epoch
    (:func:`~siamkit.evaluation.plots.plot_training_curves`; ``names`` labels its keys)."""
    from siamkit.evaluation import plots

    fig = plots.plot_training_curves(history, names)
    caption = "Loss and validation metrics per epoch, each on its own axis"
    return ("training", "Training curves", _figure_html(fig, caption, "fig-training"))


def render_report_html(
    report: EvaluationReport,
    z: ArrayLike,
    labels: ArrayLike,
    images: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    config: Any = None,
    title: str = "siamkit evaluation report",
    distance: DistanceLike | None = None,
    projection: Literal["pca", "tsne"] = "pca",
    n_queries: int = 6,
    k: int = 6,
    seed: int = 0,
    ablation: Mapping[str, EvaluationReport] | None = None,
    calibration: Mapping[str, Any] | None = None,
    run_info: Mapping[str, Any] | None = None,
    peers: Mapping[str, Any] | None = None,
    analysis: bool = True,
    trained_on: bool | Literal["validation"] | None = None,
    ways_asked: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """The report as one HTML string (see :func:`write_report` for the arguments)."""
    from siamkit.evaluation import plots
    from siamkit.evaluation import report_sections as rs

    tables = metrics_tables(report, ways_asked)
    if calibration is not None:
        tables += rs.operating_point_html(
            calibration, trained_on, score=score_kind(report.distance)
        )
    if peers:
        tables += rs.peers_html(report, peers)
    sections: list[Section] = [("metrics", "Metrics", tables)]
    named = distance is not None or report.distance in list_distances()
    if images is not None and not named:
        raise ValueError(
            f"the report used the distance {report.distance!r}, which is not a named distance; "
            "pass distance=<the Distance object> to write_report for the neighbour grid"
        )
    if ablation:
        sections.append(
            ("ablation", "Where the result comes from", ablation_table(report, ablation))
        )
    if report.verification is not None:
        sections.append(
            rs.verification_section(report.verification, calibration, score_kind(report.distance))
        )
    threshold = None if calibration is None else float(calibration["threshold"])
    if analysis and named:
        sections += rs.analysis_sections(
            report, z, labels, images, class_names, distance, threshold
        )
    fig = plots.plot_embedding_map(z, labels, class_names, method=projection, seed=seed)
    caption = "Test embeddings in 2-D, coloured by class"
    sections.append(("embedding-map", "Embedding map", _figure_html(fig, caption, "fig-map")))
    if images is not None:
        fig = plots.plot_neighbor_grid(
            z,
            labels,
            images,
            distance or report.distance,
            n_queries=n_queries,
            k=k,
            class_names=class_names,
            seed=seed,
        )
        caption = "Queries and their nearest neighbours (green: same class, red: different)"
        sections.append(
            ("neighbours", "Nearest neighbours", _figure_html(fig, caption, "fig-neighbours"))
        )
    if history:
        train_cfg = config.get("train") if isinstance(config, Mapping) else None
        val = train_cfg.get("val_metric") if isinstance(train_cfg, Mapping) else None
        names = {"val_metric": f"validation {val}".replace("_", " ")} if val else None
        sections.append(_training_section(history, names))
    doc = report.to_dict()
    for key, asked in (ways_asked or {}).items():  # as metrics.json and --json record them
        doc["few_shot"][key]["n_way_asked"] = list(asked)
    metrics_json = html.escape(json.dumps(doc, indent=2))
    # the evaluation's metrics alone: a run's metrics.json adds its calibration, run and more
    raw = (
        f"<details><summary>evaluation metrics (JSON)</summary><pre>{metrics_json}</pre></details>"
    )
    if config is not None:
        raw = f"<pre>{html.escape(config_text(rs.prune_config(config)))}</pre>" + raw
    sections.append(("config", "Configuration", raw))
    return _page(title, report, sections, rs.run_line(run_info))


def render_verification_html(
    report: EvaluationReport,
    title: str = "siamkit verification report",
    calibration: Mapping[str, Any] | None = None,
    run_info: Mapping[str, Any] | None = None,
    data: str | None = None,
    note: str = "",
    metrics: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    curve_names: Mapping[str, str] | None = None,
    trained_on: bool | Literal["validation", "these"] | None = None,
) -> str:
    """A report of the verification parts alone: the metrics tables, the model's operating point,
    ROC / DET and the distance histograms, and the metrics JSON; for pairs without classes (a
    pairs file), where the per-class, failure, embedding-map and neighbour sections cannot be
    drawn. ``data`` replaces the header's item and class counts; ``note`` (plain text) follows
    the tables; ``metrics`` is the JSON shown (default ``report.to_dict()``). ``history`` (one
    dict per epoch, as :func:`write_report` takes it) adds the ``training`` section, its curves
    labelled by ``curve_names`` (``{"val_eer": "validation EER"}``); with it the report may have
    no verification section (a run validated on graded scores: its curves and metrics alone).
    ``trained_on``: what the threshold was fit on, as
    :func:`~siamkit.evaluation.report_sections.operating_point_html` takes it."""
    from siamkit.evaluation import report_sections as rs

    if report.verification is None and not history:
        raise ValueError(
            "a verification report needs the report's verification section or a training history"
        )
    tables = metrics_tables(report)
    if calibration is not None:
        tables += rs.operating_point_html(
            calibration, trained_on, pairs=True, score=score_kind(report.distance)
        )
    if note:
        tables += f"<p>{html.escape(note)}</p>"
    shown = report.to_dict() if metrics is None else metrics
    metrics_json = html.escape(json.dumps(shown, indent=2))
    # no metrics.json is written beside this report: the block is labelled by what it holds
    what = "verification metrics" if report.verification is not None else "metrics"
    raw = f"<details><summary>{what} (JSON)</summary><pre>{metrics_json}</pre></details>"
    sections: list[Section] = [("metrics", "Metrics", tables)]
    if report.verification is not None:
        sections.append(
            rs.verification_section(report.verification, calibration, score_kind(report.distance))
        )
    if history:
        sections.append(_training_section(history, curve_names))
    sections.append(("config", f"{what.capitalize()} (JSON)", raw))
    return _page(title, report, sections, rs.run_line(run_info), data)


def write_verification_report(
    path: str | os.PathLike[str], report: EvaluationReport, **kwargs: Any
) -> Path:
    """Write :func:`render_verification_html` (same keywords) as one self-contained HTML file
    (a folder means ``folder/report.html``), atomically as :func:`write_report` does.

    Example:
        >>> rep = EvaluationReport(verification_report(g, i), {}, None, "cosine", 120, 0)  # doctest: +SKIP
        >>> write_verification_report("pairs.html", rep, data="400 pairs")  # doctest: +SKIP
    """
    return atomic_write_text(_report_file(path), render_verification_html(report, **kwargs))


def _page(
    title: str,
    report: EvaluationReport,
    sections: list[Section],
    run: str = "",
    data: str | None = None,
) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    counts = (
        data
        or f"{counted(report.n_items, 'item')}, {counted(report.n_classes, 'class', 'classes')}"
    )
    meta = (
        f"siamkit {html.escape(__version__)} · {when} · {html.escape(counts)} · "
        f"distance: {html.escape(report.distance)}"
    )
    nav = "".join(f"<a href='#{i}'>{html.escape(h)}</a>" for i, h, _ in sections)
    body = "".join(
        f"<section id='{i}'><h2>{html.escape(h)}</h2>{inner}</section>" for i, h, inner in sections
    )
    t = html.escape(title)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{t}</title><style>{_CSS}</style></head><body><h1>{t}</h1>"
        f"<p class='meta'>{meta}</p><p class='meta'>{run}</p><nav>{nav}</nav>{body}</body></html>\n"
    )


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    from siamkit.atomic import atomic_write

    return atomic_write(path, text)


def write_report(
    path: str | os.PathLike[str],
    report: EvaluationReport,
    z: ArrayLike,
    labels: ArrayLike,
    images: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    config: Any = None,
    title: str = "siamkit evaluation report",
    **kwargs: Any,
) -> Path:
    """Write one self-contained HTML report and return its path.

    Sections (element ids): ``metrics`` (with the model's operating point and the peer's figures
    when given), ``ablation`` (when given), ``verification`` (ROC with a log FAR axis and DET side
    by side, distance histograms), ``per-class`` (k-NN and nearest-prototype precision / recall /
    F1 and confusion matrices), ``failures`` (closest impostor and farthest genuine pairs, when
    ``images`` are given), ``embedding-map``, ``neighbours`` (when ``images`` are given),
    ``training`` (when ``history`` is given) and ``config`` (the config without keys that did not
    matter, and the metrics JSON). The header names the training set size, wall times and
    hardware when ``run_info`` gives them.

    Args:
        path: the ``.html`` file to write (a folder means ``folder/report.html``).
        report: from :func:`~siamkit.evaluation.evaluate_embeddings` on ``z``.
        z: ``(N, D)`` the evaluated embeddings; labels: ``(N,)`` their classes.
        images: the ``N`` matching images (``(N, C, H, W)`` in ``[0, 1]`` or uint8) for
            nearest-neighbour grids.
        class_names: names indexed by integer label.
        history: one dict per epoch (``{"epoch": 1, "loss": .., "val_map_at_r": ..}``).
        config: the run's config (mapping, dataclass or YAML text).
        title: page title.
        **kwargs: ``distance`` (for the neighbour search; default the report's),
            ``projection`` (``"pca"`` or ``"tsne"``), ``n_queries``, ``k``, ``seed``, and
            ``ablation``: ``{name: EvaluationReport}`` of parts of the embedding evaluated on
            their own (an ``ablation`` section compares them with the full model);
            ``calibration``: ``{"threshold", "target", "test": {"tar", "far", ...}}``, the
            threshold the model ships with and its rates on these classes; ``run_info``:
            ``{"train_images", "train_classes", "train_seconds", "eval_seconds", "device",
            "hardware", "started_from"}`` for the header; ``peers``: ``{"label", "source", "metrics": {"1-shot":
            ..., "EER": ...}}`` (see :func:`siamkit.evaluation.peers.peer_figures`);
            ``analysis=False`` leaves out the per-class and failure sections; ``trained_on``:
            whether the model trained on (some of) the evaluated classes (``"validation"``: it
            did not, but some are its run's validation classes, which its threshold was fit on;
            ``None``: unknown), which the operating point's wording follows; ``ways_asked``:
            ``{few-shot key: [N, ...]}`` of the rows that ran as all the evaluated classes in
            place of the N-way asked (:func:`ways_asked_of` of the metrics document), which their
            rows say.

    Example:
        >>> rep = evaluate_embeddings(z, y)                      # doctest: +SKIP
        >>> write_report("runs/demo/report.html", rep, z, y)     # doctest: +SKIP
    """
    text = render_report_html(
        report, z, labels, images, class_names, history, config, title, **kwargs
    )
    return atomic_write_text(_report_file(path), text)


def check_report_path(path: str | os.PathLike[str], option: str = "--report") -> Path:
    """The file a report written to ``path`` goes to (``path/report.html`` for a folder),
    checked before the evaluation runs, so that a bad destination is refused before the work
    rather than after it.

    Raises:
        ValueError: ``path`` is below a file (``notes.txt/report.html``), is an existing file
            other than an HTML page (the report would replace it), or does not end in ``.html``
            or ``.htm`` (``r.pdf`` would hold HTML that the next run refuses to replace);
            ``option`` names it.
    """
    from siamkit.atomic import check_writable_file

    target = _report_file(path)
    if target.is_dir():  # path/report.html is a folder
        raise ValueError(f"{option} {path}: {target} is a folder; give a .html file name")
    check_writable_file(target, f"{option} {path}")
    if target.suffix.lower() not in (".html", ".htm"):
        if target.is_file():
            raise ValueError(
                f"{option} {path} is an existing file that is not an HTML page, which the "
                "report would replace; give a .html file name"
            )
        raise ValueError(
            f"{option} {path} does not end in .html, and the report is an HTML page; give a "
            f".html file name, e.g. {target.with_suffix('.html')}"
        )
    return target


def _report_file(path: str | os.PathLike[str]) -> Path:
    """The report's file: ``path``, or ``path/report.html`` when ``path`` is a folder."""
    target = Path(path)
    return target / "report.html" if target.is_dir() else target
