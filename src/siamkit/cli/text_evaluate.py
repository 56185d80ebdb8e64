"""``siamkit evaluate TEXT_MODEL --data pairs.csv|.jsonl``: a text model scored on held-out pairs
of texts, labelled 0/1 (verification, as for image pairs) or graded (``--score-range``: Pearson
and Spearman of the cosine similarity against the scores).

Each distinct text is embedded once, a half-twin's ``a`` texts with its query tower and its ``b``
texts with its document tower (as ``siamkit text similarity`` and ``siamkit calibrate`` score a
pair); a text longer than the model's window is embedded as overlapping windows, averaged, and
the output says how many were.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from siamkit.clauses import NO_EVALUATION, counted
from siamkit.cli._image_pairs import (
    CLASS_OPTIONS,
    NOT_COMPUTED,
    TEXT_PAIRS_FORMAT,
    PairsSource,
    ScoredPairs,
    _csv_columns,
    refuse_class_options,
    refuse_image_pairs,
    report_listed_pairs,
)
from siamkit.cli._inputs import refuse_given
from siamkit.cli._metric_tables import format_table, metric_cell

if TYPE_CHECKING:
    import numpy as np

    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.applications.text.pairs import TextExamples

#: What verification needs of labelled pairs.
BOTH_LABELS = "evaluate needs pairs labelled 1 (same) and 0 (not the same)"
#: The end of the error for a label that is neither 0 nor 1.
LABELS_NEEDED = f"{BOTH_LABELS}, or graded scores with --score-range LO,HI"
#: Why graded pairs get no verification metrics, said in the JSON.
NO_VERIFICATION = (
    "graded scores are not same/different labels, and any cut on them would be arbitrary; label "
    "the pairs 0/1 for ROC AUC, EER and TAR@FAR"
)


def text_model_folder_of(model: str) -> Path | None:
    """The folder of ``model`` when it is a text model ``siamkit evaluate`` takes (a siamkit
    text model folder, a pretrained Hugging Face or sentence-transformers folder, or a named one
    such as all-MiniLM-L6-v2, as ``siamkit calibrate`` takes them); ``None`` for anything else,
    which the image path loads (and refuses) as before."""
    from siamkit.encoders.text import is_pretrained_text_folder
    from siamkit.encoders.text_zoo import resolve_text_model

    folder = resolve_text_model(model)  # a named model's packages missing: a ValueError
    if not folder.is_dir():
        return None
    if is_pretrained_text_folder(folder):
        return folder
    from siamkit.cli._model_kind import is_text_model

    return folder if is_text_model(folder) else None


def _columns(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> dict[str, str] | None:
    """--columns read by the text training reader's parser, refused in its sentence."""
    from siamkit.applications.text.pairs import parse_columns

    try:
        return parse_columns(value)
    except ValueError as err:
        raise click.BadParameter(str(err).removeprefix(f"--columns {value!r}: "),
                                 ctx, param) from None  # fmt: skip


#: ``--columns`` of ``siamkit calibrate`` and ``siamkit evaluate`` for a text model's pairs file
#: whose header is not a, b, label (as ``data.columns`` renames them for ``siamkit train``).
COLUMNS = click.option(
    "--columns",
    metavar="a=COL,b=COL,label=COL",
    callback=_columns,
    help="A text model's pairs file whose header is not a, b, label: the columns holding them, "
    "e.g. a=ticket_one,b=ticket_two,label=is_duplicate (any case; those not named keep their "
    "names), as data.columns renames them for siamkit train.",
)


def parse_score_range(text: str | None) -> tuple[float, float] | None:
    """``"0,5"`` -> ``(0.0, 5.0)``: the scale of graded scores; a usage error for anything else."""
    if text is None:
        return None
    parts = text.replace(";", ",").split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not two numbers LO,HI (e.g. 0,5)", param_hint="'--score-range'"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise click.BadParameter(
            f"{text!r}: LO must be below HI, both finite (e.g. 0,5)", param_hint="'--score-range'"
        )
    return lo, hi


def evaluate_text(
    ctx: click.Context,
    model: str,
    folder: Path,
    data: str,
    score_range: tuple[float, float] | None,
    report: str | None,
    device: str,
    as_json: bool,
    columns: dict[str, str] | None = None,
) -> None:
    """The body of ``siamkit evaluate TEXT_MODEL --data PAIRS``: the options and the pairs are
    checked, then the model loads, embeds each distinct text once and scores the pairs
    (``columns``: the columns holding a, b and label, from ``--columns``)."""
    from siamkit.training.ddp import resolve_device

    refuse_class_options(ctx, (*CLASS_OPTIONS, "queries", "seed", "clustering"))
    refuse_given(
        ctx, ("raw_distance",), "for image models with cohort score normalisation; a text model "
        "scores with 1 - cosine and its calibrated threshold"
    )  # fmt: skip
    path = Path(data)
    if path.is_dir() or path.suffix.lower() not in (".csv", ".jsonl"):
        raise click.UsageError(
            f"--data {data}: a text model is evaluated on pairs of texts, {TEXT_PAIRS_FORMAT}; "
            "or graded pairs (a, b, score) with --score-range LO,HI"
        )
    if score_range is not None and report:
        raise click.UsageError(
            "--report draws ROC/DET curves and distance histograms of pairs labelled 0/1, and "
            "graded pairs (--score-range) have none: leave it out"
        )
    if report:  # a bad destination is refused before the evaluation, not after it
        from siamkit.evaluation.report import check_report_path

        check_report_path(report)
    dev = resolve_device(device)  # checked before the data is read
    refuse_image_pairs(data, "is evaluated")
    ex = _read_pairs(path, score_range, columns)  # read and checked before the model loads
    from siamkit.applications.text import load_text_model

    net = load_text_model(folder).to(dev)
    za, zb, n_texts, chunked = embed_pairs(net, ex, progress=False if as_json else None)
    cos = (za * zb).sum(1)  # (N,)
    entry: dict[str, Any] = {
        "kind": "pairs", "source": data, "pairs": len(ex), "texts": n_texts,
        "distance": net.distance_name, "chunked_texts": chunked,
    }  # fmt: skip
    if score_range is not None:
        _graded(cos, ex, entry, score_range, data, as_json)
    else:
        _labelled(model, net, cos, ex, entry, data, report, dev, as_json)
    if not as_json:
        from siamkit.cli._text_common import chunk_note  # the text commands' line

        click.echo(chunk_note(chunked), nl=False)


def _read_pairs(
    path: Path, score_range: tuple[float, float] | None, columns: dict[str, str] | None = None
) -> TextExamples:
    """The pairs of ``path`` (``a``, ``b``, and ``label`` 0/1, or with ``score_range`` the
    ``score`` column, else ``label``, as graded scores), read by the text training reader;
    ``columns`` (``--columns``) names the columns holding a, b and label. The reader's line on
    whole 0s and 1s beside fractional scores (0/1 labels joined to graded ones) goes to stderr."""
    from siamkit.applications.text.pairs import read_examples
    from siamkit.applications.text.records import column_named, jsonl_objects

    if path.suffix.lower() == ".csv":
        cols = _csv_columns(path, semicolons=True)
    else:
        cols = sorted({k for _, row in jsonl_objects(path) for k in row})
    named = dict(columns or {})
    has_score = "label" not in named and column_named(cols, "score") in cols
    label_col = named.get("label", "label")
    if score_range is None:
        if has_score and column_named(cols, label_col) not in cols:
            raise click.UsageError(
                f"--data {path} holds graded scores (column score): give --score-range LO,HI "
                "(e.g. 0,5) to evaluate them, or a label column of 0/1 for verification"
            )
        ex = read_examples(
            path, "pairs", named or None, scores_hint=LABELS_NEEDED, columns_key="--columns"
        )
        present = sorted(set(ex.targets or ()))
        if present != [0.0, 1.0]:
            raise ValueError(f"{path} has only label {int(present[0])}; {BOTH_LABELS}")
        return ex
    if has_score:
        named["label"] = "score"
    notes: list[str] = []  # whole 0s and 1s among fractional scores: the reader's line
    ex = read_examples(
        path,
        "pairs",
        columns=named or None,
        score_range=score_range,
        columns_key="--columns",
        notes=notes,
        read_for="evaluation",
    )
    for note in notes:
        click.echo(note, err=True)
    if len(set(ex.targets or ())) < 2:
        raise ValueError(
            f"{path}: every pair has the same score; Pearson and Spearman need scores that vary"
        )
    return ex


def embed_pairs(
    net: TextSiameseNetwork, ex: TextExamples, progress: bool | None = None
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(za, zb, texts, chunked)``: unit vectors ``(N, D)`` of each pair's ``a`` (query tower)
    and ``b`` (document tower) texts, each distinct text embedded once (one set for a model
    whose twins share weights, one per tower for a half-twin); how many distinct texts the
    pairs hold, and how many of those embedded were longer than the model's window."""

    from siamkit.applications.text.embedding import embed_texts

    a, b = list(ex.texts[0]), list(ex.texts[1])
    # a broken model's NaN is refused naming the pair and column where each text is first
    # given: the rows of the distinct texts were a list the user never sees (s55_R2 finding 2)
    where = first_given(a, b)
    if net.share_weights:
        texts = list(dict.fromkeys(a + b))
        emb = embed_texts(
            net,
            texts,
            role="query",
            progress=progress,
            unit="distinct texts",
            names=[where[t] for t in texts],
            which=NO_EVALUATION,
        )
        row = {t: i for i, t in enumerate(texts)}
        za = emb.vectors[[row[t] for t in a]]
        zb = emb.vectors[[row[t] for t in b]]
        return za, zb, len(texts), emb.chunked
    chunked = 0
    sides = []
    for texts_of_side, role in ((a, "query"), (b, "document")):
        distinct = list(dict.fromkeys(texts_of_side))
        names = [where[t] for t in distinct]  # a text of both sides: where it is first given
        emb = embed_texts(
            net,
            distinct,
            role=role,
            progress=progress,
            unit="distinct texts",
            names=names,
            which=NO_EVALUATION,
        )
        row = {t: i for i, t in enumerate(distinct)}
        sides.append(emb.vectors[[row[t] for t in texts_of_side]])
        chunked += emb.chunked
    return sides[0], sides[1], len(set(a) | set(b)), chunked


def first_given(
    a: Sequence[str], b: Sequence[str], numbers: Sequence[int] | None = None
) -> dict[str, str]:
    """Each text of the pairs ``(a[i], b[i])`` -> where it is first given, ``"pair 8's b"``: the
    pair's number in the file (``numbers[i]``, 1-based; by default ``i + 1``), then its column."""
    where: dict[str, str] = {}
    for i, pair in enumerate(zip(a, b)):
        n = i + 1 if numbers is None else numbers[i]
        for column, text in zip("ab", pair):
            where.setdefault(text, f"pair {n}'s {column}")
    return where


def _labelled(
    model: str,
    net: TextSiameseNetwork,
    cos: np.ndarray,
    ex: TextExamples,
    entry: dict[str, Any],
    data: str,
    report: str | None,
    device: Any,
    as_json: bool,
) -> None:
    """Verification on 0/1 labelled pairs, as for image pairs (the same metrics, table, JSON
    and report): the distance is 1 - cosine, as ``siamkit calibrate`` fits the threshold on."""
    import numpy as np

    y = np.asarray(ex.targets)
    d = np.clip(1.0 - cos, 0.0, 2.0)
    n_gen, n_imp = int((y == 1).sum()), int((y == 0).sum())
    entry = {**entry, "genuine": n_gen, "impostor": n_imp}
    texts = counted(entry["texts"], "text")  # pairs of a text with itself: 1 text
    pairs = f"{len(ex):,} pairs ({n_gen:,} genuine, {n_imp:,} impostor) of {texts}"
    source = PairsSource(f"{pairs} from the pairs file {data}", entry, entry["texts"], pairs)
    t = None if net.threshold is None else float(net.threshold)
    note = "" if t is None else f" (a cosine distance: similarity >= {1 - t:.4f} is the same)"
    scored = ScoredPairs(d[y == 1], d[y == 0], net.distance_name, t, note)
    run_info = {"device": str(device)}
    report_listed_pairs(f"siamkit evaluate {model} on {data}", scored, source, report, run_info,
                        as_json)  # fmt: skip


@dataclass(frozen=True)
class GradedFit:
    """How well the cosine similarities follow graded scores: Pearson's r and Spearman's rho
    (``None`` where undefined: every cosine the same)."""

    pearson: float | None
    spearman: float | None


def graded_fit(cos: np.ndarray, scores: np.ndarray) -> GradedFit:
    """Pearson and Spearman (scipy) of ``cos`` ``(N,)`` against ``scores`` ``(N,)``."""
    import warnings

    from scipy.stats import pearsonr, spearmanr

    def finite(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    with warnings.catch_warnings():  # constant cosines: undefined, reported as None
        warnings.simplefilter("ignore")
        return GradedFit(finite(pearsonr(cos, scores)[0]), finite(spearmanr(cos, scores)[0]))


def _graded(
    cos: np.ndarray,
    ex: TextExamples,
    entry: dict[str, Any],
    score_range: tuple[float, float],
    data: str,
    as_json: bool,
) -> None:
    """Pearson and Spearman of the cosine similarity against graded scores (JSON or a table)."""
    import numpy as np

    lo, hi = score_range
    scores = lo + np.asarray(ex.targets) * (hi - lo)  # the reader scaled them to [0, 1]
    fit = graded_fit(cos, scores)
    metrics = {
        "similarity": {"pearson": fit.pearson, "spearman": fit.spearman},
        "data": {**entry, "score_range": [lo, hi]},
        "not_computed": {
            "verification": NO_VERIFICATION, "few_shot": NOT_COMPUTED, "retrieval": NOT_COMPUTED,
        },
    }  # fmt: skip
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    click.echo(
        f"{len(ex):,} graded pairs (scores {lo:g} to {hi:g}) of {counted(entry['texts'], 'text')} from "
        f"the pairs file {data}"
    )
    rows = [("Pearson r", metric_cell(fit.pearson)), ("Spearman rho", metric_cell(fit.spearman))]
    click.echo(format_table(rows, ("cosine vs score", "value")))
    click.echo(
        "\nROC AUC, EER and TAR@FAR are not computed: graded scores are not same/different "
        "labels; label the pairs 0/1 for them. N-way K-shot and retrieval need classes."
    )
