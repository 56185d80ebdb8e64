"""Image models on a pairs CSV (``path_a,path_b,same``): ``siamkit evaluate`` and ``siamkit
calibrate`` with ``--data pairs.csv``, the 1:1 protocol of a list of image pairs (LFW-style).

Each distinct image is read and embedded once, each listed pair is scored with the model's
scoring distance, and the verification metrics (or the threshold) come from those distances.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import numpy as np
    import torch

    from siamkit.evaluation.pairs import PairDistances

#: What an image model's pairs file is, for the errors and --help texts.
IMAGE_PAIRS_FORMAT = (
    "a CSV with the header path_a,path_b,same (image files, relative to the CSV's folder; "
    "same = 1 for the same, 0 for not)"
)
#: What a text model's pairs file is.
TEXT_PAIRS_FORMAT = (
    "a CSV or JSONL with columns a, b and label, any case (label 1, true or yes = the same; "
    "0, false or no = not), or other names given with --columns a=COL,b=COL,label=COL"
)
#: Why the class-based parts of ``siamkit evaluate`` are missing on a pairs file.
NOT_COMPUTED = "needs classes; a pairs file has none"
#: The same, said in the printed output and the report.
NOT_COMPUTED_LINE = (
    "N-way K-shot and retrieval are not computed: they need classes, and a pairs file has none."
)
#: ``siamkit evaluate`` options that only a dataset with classes can use.
CLASS_OPTIONS = ("classes", "split", "data_dir", "episodes", "shots", "ways")
TEXT_SUFFIXES = (".jsonl", ".json")


def is_pairs_file(data: str) -> bool:
    """Whether ``--data`` names a pairs file rather than a dataset name or a class folder."""
    from siamkit.cli._inputs import DATASET_NAMES

    if data in DATASET_NAMES:
        return False
    return Path(data).is_file() or data.lower().endswith((".csv", *TEXT_SUFFIXES))


def _csv_columns(path: Path, semicolons: bool = False) -> list[str]:
    """The header of a CSV file (empty for an empty or unreadable one). With ``semicolons``, a
    header that holds semicolons and no comma is split at them, as the text readers read it
    (Excel's ``A;B;Label`` where the comma is the decimal mark, ``corpus.csv_records``)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            first = fh.readline()
            fh.seek(0)
            sep = ";" if semicolons and ";" in first and "," not in first else ","
            return [c.strip() for c in next(csv.reader(fh, delimiter=sep), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def refuse_text_pairs(data: str) -> None:
    """An image model's refusal of a text pairs file (JSONL, or columns a, b, label found as
    text training finds them: whatever their case, ``A,B,Label``, or ``A;B;Label``)."""
    from siamkit.applications.text.records import column_named

    path = Path(data)
    cols = _csv_columns(path, semicolons=True) if path.suffix.lower() == ".csv" else []
    if path.suffix.lower() in TEXT_SUFFIXES or (
        all(column_named(cols, c) in cols for c in ("a", "b", "label")) and "path_a" not in cols
    ):
        raise ValueError(
            f"--data {data} holds pairs of texts (columns a, b, label), which text models take; "
            f"an image model takes {IMAGE_PAIRS_FORMAT}"
        )


def refuse_image_pairs(data: str, verb: str = "calibrates") -> None:
    """A text model's refusal of an image pairs CSV (header path_a,path_b,same); ``verb``: what
    the command does with pairs of texts ("calibrates", "is evaluated")."""
    path = Path(data)
    if path.is_file() and {"path_a", "path_b", "same"} <= set(_csv_columns(path)):
        raise ValueError(
            f"--data {data} lists pairs of image files (path_a,path_b,same), which image models "
            f"take; a text model {verb} on pairs of texts: {TEXT_PAIRS_FORMAT}"
        )


def refuse_class_options(ctx: click.Context, names: tuple[str, ...] = CLASS_OPTIONS) -> None:
    """A usage error for options given on the command line that a pairs file cannot use."""
    from siamkit.cli._inputs import refuse_given

    refuse_given(ctx, names, "for data with classes; a pairs file names its pairs itself")


@dataclass(frozen=True)
class ImagePairs:
    """The pairs of a pairs CSV: each distinct image file once (``paths``), each pair as two
    indices into them, and its label (1 = the same)."""

    csv: Path
    paths: list[Path]
    index_a: np.ndarray
    index_b: np.ndarray
    same: np.ndarray
    where: dict[Path, str]

    @property
    def n_genuine(self) -> int:
        return int(self.same.sum())

    @property
    def n_impostor(self) -> int:
        return int(self.same.size - self.same.sum())

    def subset(self, keep: np.ndarray) -> ImagePairs:
        """The pairs at indices ``keep``, with only the images they name."""
        import numpy as np

        ia, ib = self.index_a[keep], self.index_b[keep]
        used = np.unique(np.concatenate([ia, ib]))
        new = np.full(len(self.paths), -1, dtype=np.int64)
        new[used] = np.arange(used.size)
        paths = [self.paths[i] for i in used]
        return ImagePairs(self.csv, paths, new[ia], new[ib], self.same[keep], self.where)

    def describe(self) -> str:
        """``"6 pairs (3 genuine, 3 impostor) of 5 images from the pairs file x.csv"``."""
        return (
            f"{self.same.size:,} pairs ({self.n_genuine:,} genuine, {self.n_impostor:,} impostor) "
            f"of {len(self.paths):,} images from the pairs file {self.csv}"
        )

    def data_entry(self, distance: str) -> dict[str, Any]:
        """The ``data`` entry of the metrics JSON."""
        return {
            "kind": "pairs", "source": str(self.csv), "pairs": int(self.same.size),
            "genuine": self.n_genuine, "impostor": self.n_impostor, "images": len(self.paths),
            "distance": distance,
        }  # fmt: skip


def read_image_pairs(data: str) -> ImagePairs:
    """Parse and check a pairs CSV for an image model: the format, the columns, 0/1 labels, both
    labels present, and every image file's header (a missing or non-image file is named with
    its CSV line)."""
    import numpy as np

    from siamkit.data.pairs_csv import read_pairs_csv_lines
    from siamkit.image_decode import ImageReadError, probe_image

    refuse_text_pairs(data)
    rows = read_pairs_csv_lines(data)
    same = np.array([p.same for _, p in rows], dtype=np.int64)
    if same.min() == same.max():
        kind, other = (
            ("genuine", "impostor (same = 0)") if same[0] else ("impostor", "genuine (same = 1)")
        )
        raise ValueError(
            f"--data {data} holds only {kind} pairs; verification needs {other} pairs too"
        )
    index: dict[Path, int] = {}
    where: dict[Path, str] = {}
    ia: list[int] = []
    ib: list[int] = []
    for line, pair in rows:
        for col, path, out in (("path_a", pair.path_a, ia), ("path_b", pair.path_b, ib)):
            if path not in index:
                index[path], where[path] = len(index), f"'{data}' line {line}, {col}"
                try:
                    probe_image(path)
                except ImageReadError as err:
                    raise ValueError(f"{where[path]}: {err}") from None
            out.append(index[path])
    return ImagePairs(Path(data), list(index), np.array(ia), np.array(ib), same, where)


def read_pair_images(pairs: ImagePairs, shape: tuple[int, int, int]) -> torch.Tensor:
    """``(U, C, H, W)`` images in ``[0, 1]``, each distinct file once, with progress, read as
    training and ``siamkit identify`` read them (a big JPEG shrunk as it decodes:
    :func:`~siamkit.data.image_io.read_image_resized`); a file that cannot be decoded is named
    with its CSV line."""
    import torch

    from siamkit.data.image_io import read_image_resized
    from siamkit.image_decode import ImageReadError
    from siamkit.progress import track

    x = torch.empty(len(pairs.paths), *shape)
    for i, path in enumerate(track(pairs.paths, "reading images", unit="images")):
        try:
            x[i] = read_image_resized(path, shape)
        except ImageReadError as err:
            raise ValueError(f"{pairs.where[path]}: {err}") from None
    return x


def pair_scores(net: Any, pairs: ImagePairs, where: str, device: Any) -> PairDistances:
    """Genuine and impostor distances of the listed pairs with the model's scoring distance
    (``where``: the model folder, for its errors)."""
    from siamkit.cli._inputs import check_input, model_image_shape
    from siamkit.encode import encode
    from siamkit.evaluation.pairs import listed_pair_distances

    x = read_pair_images(pairs, model_image_shape(net, where))
    check_input(net, x)
    z = encode(net, x, device=device)
    return listed_pair_distances(z, pairs.index_a, pairs.index_b, pairs.same, net.scoring_distance)


def evaluate_pairs(
    model: str,
    net: Any,
    data: str,
    report: str | None,
    device: Any,
    run_info: dict[str, Any],
    as_json: bool,
) -> None:
    """The body of ``siamkit evaluate MODEL --data pairs.csv``: verification on the listed pairs
    (ROC AUC, EER, TAR@FAR; the model's threshold's accuracy, TAR and FAR when it has one)."""
    from siamkit.evaluation._common import distance_name

    pairs = read_image_pairs(data)  # `evaluate` checked the --report path before the model loaded
    pd = pair_scores(net, pairs, model, device)
    name = distance_name(net.scoring_distance)
    source = PairsSource(
        pairs.describe(), pairs.data_entry(name), len(pairs.paths),
        f"{pairs.same.size:,} pairs ({pairs.n_genuine:,} genuine, {pairs.n_impostor:,} "
        f"impostor) of {len(pairs.paths):,} images",
    )  # fmt: skip
    threshold = None if net.threshold is None else float(net.threshold)
    scored = ScoredPairs(pd.genuine, pd.impostor, name, threshold)
    report_listed_pairs(f"siamkit evaluate {model} on {data}", scored, source, report, run_info,
                        as_json)  # fmt: skip


@dataclass(frozen=True)
class PairsSource:
    """What listed pairs came from, as ``siamkit evaluate`` states it: ``described`` (the
    printed first line), ``entry`` (the JSON's ``data``), ``n_items`` (the distinct images or
    texts embedded) and ``counts`` (the report header's pairs and items)."""

    described: str
    entry: dict[str, Any]
    n_items: int
    counts: str


@dataclass(frozen=True)
class ScoredPairs:
    """The listed pairs' distances, ``genuine`` ``(G,)`` and ``impostor`` ``(I,)``, with the
    distance's ``name`` and the model's calibrated ``threshold`` (a distance; ``None``
    without one); ``threshold_note`` follows the threshold in the printed line."""

    genuine: np.ndarray
    impostor: np.ndarray
    distance: str
    threshold: float | None
    threshold_note: str = ""


def pairs_metrics(scored: ScoredPairs, source: PairsSource) -> tuple[Any, dict[str, Any]]:
    """The :class:`~siamkit.evaluation.VerificationReport` of listed pairs (the FARs of ``siamkit
    evaluate``) and the metrics JSON: verification, data, what is not computed and, with a
    threshold, its TAR, FAR and (balanced) accuracy on these pairs, each pair accepted as the
    model's verdict accepts it (:func:`siamkit.decision.accepts`)."""
    import numpy as np

    from siamkit.decision import accepts
    from siamkit.evaluation._common import score_kind
    from siamkit.evaluation.verification import verification_report

    g, i = scored.genuine, scored.impostor
    # a score-normalised model's scores may be negative, as calibrate fits them (signed)
    ver = verification_report(g, i, signed=score_kind(scored.distance) != "distance")
    metrics: dict[str, Any] = {
        "verification": ver.to_dict(),
        "data": source.entry,
        "not_computed": {"few_shot": NOT_COMPUTED, "retrieval": NOT_COMPUTED},
    }
    if scored.threshold is not None:
        t = scored.threshold  # a pair accepted as the model accepts it, within float32 rounding
        same_g, same_i = accepts(g, t), accepts(i, t)
        tar, far = float(np.mean(same_g)), float(np.mean(same_i))
        right = int(same_g.sum() + (~same_i).sum())
        metrics["calibration"] = {
            "threshold": t,
            "test": {"tar": tar, "far": far, "balanced_accuracy": (tar + 1 - far) / 2,
                     "accuracy": right / (g.size + i.size)},
        }  # fmt: skip
    return ver, metrics


def report_listed_pairs(
    title: str,
    scored: ScoredPairs,
    source: PairsSource,
    report: str | None,
    run_info: dict[str, Any],
    as_json: bool,
) -> dict[str, Any]:
    """Verification on listed pairs, as ``siamkit evaluate`` gives it for an image or a text
    model: the metrics (:func:`pairs_metrics`), the verification report at ``report`` (ROC/DET,
    distance histograms; its path was checked before the model loaded), and the JSON or the
    printed table. Returns the metrics JSON."""
    from siamkit.cli._metric_tables import metrics_table
    from siamkit.evaluation import EvaluationReport
    from siamkit.evaluation.verification import far_resolved

    ver, metrics = pairs_metrics(scored, source)
    if report:
        from siamkit.evaluation.report import write_verification_report

        rep = EvaluationReport(ver, {}, None, scored.distance, source.n_items, 0)
        write_verification_report(
            Path(report), rep, title=title, calibration=metrics.get("calibration"),
            run_info=run_info, data=source.counts, note=NOT_COMPUTED_LINE, metrics=metrics,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return metrics
    click.echo(source.described)
    rows = [
        ("EER", ver.eer), ("ROC AUC", ver.roc_auc),
        *((f"TAR@FAR={f:.0e}".replace("e-0", "e-"), v if far_resolved(f, ver.n_impostor) else None)
          for f, v in ver.tar_at_far.items()),
    ]  # fmt: skip
    click.echo(metrics_table(rows, metrics["verification"]))
    if "calibration" in metrics:
        cal = metrics["calibration"]
        click.echo(
            f"\nthe model's threshold {cal['threshold']:.4f}{scored.threshold_note}: accuracy "
            f"{cal['test']['accuracy']:.3f}, TAR {cal['test']['tar']:.3f}, FAR "
            f"{cal['test']['far']:.3f} on these pairs"
        )
    click.echo(f"\n{NOT_COMPUTED_LINE}")
    if report:
        click.echo(f"report: {report}")
    return metrics
