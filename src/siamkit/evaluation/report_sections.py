"""The report's sections about the operating point, per-class errors, peers and the run itself.

Each ``*_section`` returns ``(element id, heading, inner HTML)`` for
:func:`siamkit.evaluation.report.render_report_html`.
"""

from __future__ import annotations

import html
import os
import platform
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from siamkit.clauses import counted, in_number, listing

Section = tuple[str, str, str]
PROTOTYPE_SHOTS = 5  # support items per class of the nearest-prototype confusion matrix

#: Config keys that say nothing about a run unless another key has some value:
#: ``(section, key, values that make them matter (None: any but "none"), keys)``.
_CONDITIONAL_KEYS: tuple[tuple[str, str, tuple[Any, ...] | None, tuple[str, ...]], ...] = (
    ("eval", "score_norm", None, ("score_norm_k", "cohort", "cohort_root", "cohort_size")),
    ("model", "distance", ("mlp",), ("metric_hidden",)),
    ("loss", "kind", ("multi_similarity",), ("ms_alpha", "ms_beta", "ms_base")),
    ("loss", "kind", ("supcon",), ("temperature",)),
    ("loss", "kind", ("bce",), ("pos_weight",)),
    ("loss", "offline_mining", (True,), ("offline_pool",)),
    ("optim", "optimizer", ("sgd",), ("momentum",)),
    ("optim", "schedule", ("cosine", "onecycle"), ("warmup_fraction",)),
)  # fmt: skip
#: the flat appearance keys of configs saved before ``model.appearance`` (off: that section is null)
_SKIP_PREFIX = (("model", "appearance_skip_", "appearance_skip_weight"),)


def prune_config(config: Any) -> Any:
    """A config mapping without the keys that did not affect the run.

    Drops ``None`` values and the settings of features that were off (e.g. the cohort keys when
    ``eval.score_norm`` is ``none``, ``momentum`` for Adam, the appearance-skip settings when its
    weight is 0). Anything that is not a mapping is returned unchanged.

    >>> prune_config({"eval": {"score_norm": "none", "cohort_size": 2000, "episodes": 100}})
    {'eval': {'score_norm': 'none', 'episodes': 100}}
    """
    if not isinstance(config, Mapping):
        return config
    out = {
        k: ({kk: vv for kk, vv in v.items() if vv is not None} if isinstance(v, Mapping) else v)
        for k, v in config.items()
        if v is not None
    }
    for section, key, on, keys in _CONDITIONAL_KEYS:
        sec = out.get(section)
        if not isinstance(sec, dict) or key not in sec:
            continue
        if (sec[key] == "none") if on is None else (sec[key] not in on):
            for k in keys:
                sec.pop(k, None)
    for section, prefix, switch in _SKIP_PREFIX:
        sec = out.get(section)
        if isinstance(sec, dict) and not sec.get(switch):
            for k in [k for k in sec if k.startswith(prefix) and k != switch]:
                sec.pop(k)
    return out


def hardware_summary() -> str:
    """``"Linux x86_64, 2 CPU cores, torch 2.13.0 (CPU)"`` or the GPU's name when there is one."""
    import torch

    dev = "CPU"
    if torch.cuda.is_available():
        dev = f"GPU: {torch.cuda.get_device_name(0)}"
    cores = os.cpu_count() or 1
    return (
        f"{platform.system()} {platform.machine()}, {cores} CPU cores, "
        f"torch {torch.__version__.split('+')[0]} ({dev})"
    )


#: The most class names a log line or the report's header lists before "and N more".
SHOWN_CLASSES = 10


def class_list(names: Sequence[str], classes: Sequence[int], most: int = SHOWN_CLASSES) -> str:
    """``classes`` by name (an image folder's sub-folders, a data set's class names; the id of
    one ``names`` does not reach), the first ``most`` of them and how many more.

    >>> class_list(["cat", "dog", "eel", "fox"], [0, 2, 3], most=2)
    'cat, eel and 1 more'
    """
    return listing((names[c] if c < len(names) else c for c in classes), most)


def started_from_text(record: Mapping[str, Any]) -> str:
    """A model's ``started_from`` record (:func:`siamkit.training.init_from.started_from_record`)
    in words, down its chain of starting models.

    >>> started_from_text({"path": "runs/ft/model", "method": "supervised", "loss": "triplet",
    ...     "started_from": {"path": "runs/ssl/model", "method": "simclr", "dataset": "stl10"}})
    'started from runs/ft/model (supervised, triplet loss), itself started from runs/ssl/model (self-supervised simclr on stl10)'
    """
    said, first = [], True
    node: Any = record
    while isinstance(node, Mapping) and node.get("path"):
        method, facts = node.get("method"), []
        if method == "supervised":
            facts.append("supervised" + (f", {node['loss']} loss" if node.get("loss") else ""))
        elif method:
            facts.append(f"self-supervised {method}")
        if node.get("dataset"):
            facts[-1:] = [f"{facts[-1]} on {node['dataset']}" if facts else f"on {node['dataset']}"]
        how = f" ({facts[0]})" if facts else ""
        said.append(f"{'started from' if first else 'itself started from'} {node['path']}{how}")
        node, first = node.get("started_from"), False
    return ", ".join(said)


def run_line(run_info: Mapping[str, Any] | None) -> str:
    """The header's second line: training set size and classes, what validated, wall times and
    hardware. ``run_info`` may hold ``class_names`` (the data set's, which name the classes as
    the run's output does; ids without them) and the run record's ``val_classes`` and
    ``val_held_out`` (``"classes"``, ``"images"`` or ``"none"``; nothing said without it).

    >>> run_line({"train_images": 90, "train_classes": [0, 2], "class_names": ["a", "b", "c"],
    ...           "val_classes": [1], "val_held_out": "classes", "hardware": "test"})
    'trained on 90 images of 2 classes (a, c) · validated on 1 other class (b) · test'
    """
    info = dict(run_info or {})
    names = list(info.get("class_names") or ())
    parts, trained = [], []
    if info.get("train_images") is not None:
        trained.append(counted(int(info["train_images"]), "image"))
    if info.get("train_classes"):
        k, tc = len(info["train_classes"]), info["train_classes"]
        trained.append(f"{counted(k, 'class', 'classes')} ({class_list(names, tc)})")
    if trained:
        parts.append("trained on " + " of ".join(trained))
    held, vc = info.get("val_held_out"), list(info.get("val_classes") or ())
    if held == "classes" and vc:
        k = len(vc)
        other = f"{k:,} other {in_number(k, 'class', 'classes')}"
        parts.append(f"validated on {other} ({class_list(names, vc)})")
    elif held == "images":
        parts.append("validated on held-out images of the training classes")
    elif held == "none":
        parts.append("no validation images")
    if isinstance(info.get("started_from"), Mapping):  # model.init_from's model, and its own
        parts.append(started_from_text(info["started_from"]))
    for key, name in (("train_seconds", "training"), ("eval_seconds", "evaluation")):
        if info.get(key) is not None:
            parts.append(f"{name} {float(info[key]):,.0f} s wall time")
    if info.get("device"):
        parts.append(f"device {info['device']}")
    parts.append(str(info.get("hardware") or hardware_summary()))
    return " · ".join(html.escape(p) for p in parts)


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='num'>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return f"<table><tr><th>Quantity</th><th>Value</th></tr>{body}</table>"


def operating_point_html(
    calibration: Mapping[str, Any],
    trained_on: bool | Literal["validation", "these"] | None = None,
    pairs: bool = False,
    score: str = "distance",
) -> str:
    """The threshold the model ships with and what it does on the evaluated classes.

    ``trained_on``: whether the model trained on (some of) the evaluated classes; ``"validation"``
    when it did not, but (some of) them are its run's validation classes (``data.val_classes``),
    whose pairs the threshold was fit on; ``"these"`` when it was fit on the very pairs evaluated
    (a text run's report of its validation pairs); ``None`` when that is not known (e.g. another
    image folder). Only ``False`` calls them unseen. ``pairs``:
    the evaluation was of a list of pairs (a pairs file), not of classes. ``score``: what the
    threshold is compared with (:func:`~siamkit.evaluation._common.score_kind`), a distance or,
    with ``eval.score_norm``, a normalised score.
    """
    these = "these pairs" if pairs else "these classes"
    t = float(calibration["threshold"])
    rows = [(f"threshold ({score})", f"{t:.4f}")]
    if calibration.get("target"):
        rows.append(("fit on", f"validation pairs, target {calibration['target']}"))
    test = calibration.get("test") or {}
    for key, name in (("tar", f"TAR on {these}"), ("far", f"FAR on {these}"),
                      ("balanced_accuracy", "balanced accuracy")):  # fmt: skip
        if key in test:
            rows.append((name, f"{float(test[key]):.4f}"))
    fit = {  # true whether the run validated on images of its training classes or on classes
        # it held out of training (data.val_classes)
        False: "fit on validation data of other classes, never on these",
        True: "fit on validation data, and the model trained on evaluated classes: these rates "
        "are not those of unseen classes",
        "validation": "fit on validation pairs of its run's validation classes (data.val_classes: "
        "not trained on), which include evaluated classes: these rates are optimistic for unseen "
        "classes",
        "these": f"fit on {these}: the rates below are those it was fit on, optimistic for new "
        "ones",
        None: f"fit on its run's validation data; whether that run trained or validated on "
        f"{these} is not known",
    }[trained_on]
    on = "the listed pairs" if pairs else "the evaluated classes' pairs"
    note = (
        f"<p>The decision threshold saved with the model ({fit}) and the true / false accept "
        f"rates it gives on {on}.</p>"
    )
    return "<h3>Operating point the model ships with</h3>" + note + _rows(rows)


def peers_html(report: Any, peers: Mapping[str, Any]) -> str:
    """This run's headline metrics next to a peer's (``{"label", "metrics", "source"}``)."""
    from siamkit.evaluation.report import _headline

    ours = dict(_headline(report))
    theirs = peers.get("metrics") or {}
    cols = [c for c in ours if _peer_key(c) in theirs]
    if not cols:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    mine = "".join(f"<td class='num'>{html.escape(ours[c])}</td>" for c in cols)
    other = "".join(f"<td class='num'>{theirs[_peer_key(c)]:.3f}</td>" for c in cols)
    label = html.escape(str(peers.get("label", "peer")))
    src = html.escape(str(peers.get("source", "")))
    return (
        f"<h3>Against the peer</h3><p>{src}</p><table><tr><th></th>{head}</tr>"
        f"<tr><td>this run</td>{mine}</tr><tr><td>{label}</td>{other}</tr></table>"
    )


def _peer_key(column: str) -> str:
    """``"4-way 1-shot"`` -> ``"1-shot"`` (``"1,000-way 1,000-shot"`` -> ``"1000-shot"``, a
    peer's key); other names unchanged."""
    if column.endswith("-shot") and " " in column:
        return column.split(" ", 1)[1].replace(",", "")
    return column


def per_class_section(per_class: Any, class_names: Sequence[str]) -> Section:
    """Per-class precision / recall / F1 tables and both confusion matrices."""
    from siamkit.evaluation.plots.analysis import plot_confusions
    from siamkit.evaluation.report import _figure_html

    names = [str(class_names[int(c)]) if class_names else str(c) for c in per_class.classes]
    head = "<tr><th>class</th>" + "".join(
        f"<th>{m} precision</th><th>{m} recall</th><th>{m} F1</th>" for m in ("k-NN", "prototype")
    )
    body = ""
    for i, name in enumerate(names):
        cells = "".join(
            f"<td class='num'>{v[i]:.3f}</td>"
            for rep in (per_class.knn, per_class.prototype)
            for v in (rep.precision, rep.recall, rep.f1)
        )
        body += f"<tr><td>{html.escape(name)}</td>{cells}</tr>"
    fig = plot_confusions([per_class.knn, per_class.prototype], names)
    caption = "Confusion matrices, rows normalised (true class down, predicted across)"
    inner = f"<table>{head}</tr>{body}</table>" + _figure_html(fig, caption, "fig-confusion")
    return ("per-class", "Per class", inner)


def failures_section(
    pairs: Any,
    images: Any,
    labels: Any,
    class_names: Sequence[str],
    threshold: float | None,
    score: str = "distance",
) -> Section:
    """The closest impostor pairs and the farthest genuine pairs, as images."""
    from siamkit.evaluation.plots.analysis import plot_failure_pairs
    from siamkit.evaluation.report import _figure_html

    y = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels).reshape(-1)
    if class_names:
        names = list(class_names)
    else:  # labels of any kind: show them as they are
        uniques, y = np.unique(y, return_inverse=True)
        names = [str(u) for u in uniques]
    figs = [
        _figure_html(
            plot_failure_pairs(pairs.closest_impostors, images, y, names,
                               "Closest impostor pairs (different classes)", threshold, score),
            "The most similar pairs of different classes", "fig-impostors",
        ),
        _figure_html(
            plot_failure_pairs(pairs.farthest_genuine, images, y, names,
                               "Farthest genuine pairs (same class)", threshold, score),
            "The least similar pairs of the same class", "fig-genuine",
        ),
    ]  # fmt: skip
    return ("failures", "Failure cases", f"<div class='figs'>{''.join(figs)}</div>")


def verification_section(
    v: Any, calibration: Mapping[str, Any] | None = None, score: str = "distance"
) -> Section:
    """ROC / DET and the genuine vs impostor histograms; ``score``: what the values are
    (:func:`~siamkit.evaluation._common.score_kind`), a distance or a normalised score."""
    from siamkit.evaluation import plots
    from siamkit.evaluation.report import _figure_html

    mark = None
    threshold = None
    if calibration is not None:
        threshold = float(calibration["threshold"])
        test = calibration.get("test") or {}
        if "far" in test and "tar" in test:
            far, tar = max(float(test["far"]), 1e-12), float(test["tar"])
            mark = (far, tar, f"model's threshold {threshold:.3f}: TAR {tar:.3f}, FAR {far:.3g}")
    figs = [
        _figure_html(
            plots.plot_roc_det(v, mark=mark),
            "ROC (log FAR: the TAR@FAR points and the model's threshold) and DET curves",
            "fig-roc",
        ),
        _figure_html(
            plots.plot_distance_histograms(
                v, threshold, "model's threshold" if threshold is not None else None, score
            ),
            f"Genuine vs impostor {score} distributions with "
            + ("the model's threshold" if threshold is not None else "the EER threshold"),
            "fig-hist",
        ),
    ]
    return ("verification", "Verification", f"<div class='figs'>{''.join(figs)}</div>")


def analysis_sections(
    report: Any,
    z: Any,
    labels: Any,
    images: Any,
    class_names: Sequence[str] | None,
    distance: Any,
    threshold: float | None,
) -> list[Section]:
    """Per-class metrics and confusion matrices; failure pairs as images when ``images`` exist."""
    from siamkit.evaluation._common import score_kind
    from siamkit.evaluation.failures import failure_pairs
    from siamkit.evaluation.per_class import per_class_report

    dist = distance or report.distance
    out = []
    y = labels.detach().cpu().numpy() if hasattr(labels, "detach") else np.asarray(labels)
    counts = np.unique(y.reshape(-1), return_counts=True)[1]
    if counts.size >= 2 and counts.min() > PROTOTYPE_SHOTS:
        per_class = per_class_report(z, labels, dist, k_shot=PROTOTYPE_SHOTS)
        out.append(per_class_section(per_class, class_names or []))
    if images is not None:
        pairs = failure_pairs(z, labels, dist)
        out.append(
            failures_section(pairs, images, labels, class_names or [], threshold, score_kind(dist))
        )
    return out
