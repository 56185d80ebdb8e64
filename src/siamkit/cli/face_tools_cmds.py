"""``siamkit face evaluate`` (LFW pairs, identities folder) and ``siamkit face crop``.

Registered on the ``face`` group by :mod:`siamkit.cli.face_cmds`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from siamkit.clauses import counted, in_number, listed
from siamkit.cli._face_common import (
    _IMAGE,
    _JSON,
    _emit,
    _model_options,
    _no_face_hint,
    _pipeline,
    detector_options,
)
from siamkit.cli._inputs import PROGRESS, DataFolder, data_warnings_as_lines
from siamkit.cli.gallery_cmds import _friendly


@click.command()
@click.argument("source", type=DataFolder())
@click.argument("dest", type=click.Path(file_okay=False))
@detector_options
@_JSON
@PROGRESS
@_friendly
def crop(source: str, dest: str, detector: str, upsample: int, as_json: bool) -> None:
    """Aligned 150x150 chips of the largest face of every image in SOURCE (a folder per person)
    into DEST (same folders), to train a siamkit face model with `siamkit train`.

    Images without a face are skipped and listed; a file that is not a readable image (not an
    image, truncated) stops the crop with one sentence and nothing written. DEST must be a new
    or an empty folder outside SOURCE; the chips appear in it all at once, and Ctrl-C leaves it
    as it was.

    \b
    Example:
      siamkit face crop people/ chips/
    """
    from siamkit.applications.faces.crop import crop_folder
    from siamkit.atomic import check_writable_folder
    from siamkit.data.folders import UnreadableFolderError

    try:
        check_writable_folder(dest, f"DEST {dest}")  # before any face is detected
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    try:
        with data_warnings_as_lines():  # what the listing leaves out: one line each, as enroll
            written, skipped = crop_folder(Path(source), Path(dest), detector, upsample)
    except UnreadableFolderError as err:  # SOURCE's (one for want of access is a PermissionError)
        raise click.ClickException(str(err)) from None
    except PermissionError as err:  # not a gallery's problem, as the shared handler would say
        raise click.ClickException(
            f"cannot write the chips into {dest}: {err.strerror or err} ({err.filename}); "
            "choose a DEST you can write to"
        ) from None
    doc: dict[str, Any] = {"written": written, "skipped": [str(p) for p in skipped], "dest": dest}
    text = f"wrote {counted(written, 'chip')} into {dest}" + "".join(
        f"\nskipped (no face): {p}" for p in skipped
    )
    if skipped:  # once, not per file: the same advice holds for each
        hint = _no_face_hint(detector, upsample)
        doc["hint"] = hint  # as face identify --json has it (only then: no field changes)
        text += f"\nno face found in {counted(len(skipped), 'image')}; {hint}"
    _emit(as_json, doc, text)


FEW_PROBES = 10
"""Below this many known (or unknown) probes, ``face evaluate --identities`` says that its
rank-1 and DIR (or its FARs) move in coarse steps."""


def _identities_text(out: Any) -> str:
    """``face evaluate --identities``' lines: rank-1 and DIR@FAR with the probe counts they come
    from, and a note where they rest on few probes (DIR at a FAR under 1/unknowns is at FAR 0)
    or where no unknown probe leaves DIR@FAR unmeasured."""
    from siamkit.evaluation.roc import false_accepts_allowed

    known, unknown = out.num_known, out.num_unknown
    dirs = "".join(f", DIR@FAR={k:g} {v:.4f}" for k, v in out.dir_at_far.items())
    probes = f"{counted(known, 'known probe')}, {unknown:,} unknown"
    text = f"rank-1 {out.rank1:.4f}{dirs} ({probes})"
    more = "give more identities or a higher --unknown-fraction"
    if unknown == 0:
        text += f"\nnote: no unknown probe (no identity was left out), so no DIR@FAR; {more}"
    else:
        coarse = [  # the FAR each threshold lets through: the most k with k / unknown <= far
            f"DIR@FAR={far:g} is at FAR {false_accepts_allowed(far, unknown) / unknown:g}"
            for far in out.dir_at_far
            if false_accepts_allowed(far, unknown) / unknown != far
        ]
        if unknown < FEW_PROBES or coarse:
            few = "only " if unknown < FEW_PROBES else ""
            text += (
                f"\nnote: {few}{counted(unknown, 'unknown probe')} "
                f"{'sets' if unknown == 1 else 'set'} the thresholds, so FAR is measured in "
                f"steps of 1/{unknown}" + (f" ({', '.join(coarse)})" if coarse else "")
                + f"; {more}"
            )  # fmt: skip
    if known < FEW_PROBES:
        text += (
            f"\nnote: only {counted(known, 'known probe')}, so rank-1 and DIR move in steps of "
            f"1/{known}; "
            "give more photos per identity (each enrolls its first and probes with the rest)"
        )
    return text


@click.command()
@click.option("--lfw-pairs", type=_IMAGE, default=None, help="LFW-style pairs.txt (10 folds).")
@click.option(
    "--images",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="The folder pairs.txt names images in (<name>/<name>_0001.jpg).",
)
@click.option(
    "--identities",
    type=DataFolder(),
    default=None,
    help="A folder per identity, for open-set 1:N (rank-1, DIR@FAR).",
)
@click.option(
    "--unknown-fraction",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.5,
    show_default=True,
    help="With --identities: the share of the identities left out of the gallery, whose images "
    "probe as unknowns.",
)
@click.option(
    "--far",
    "fars",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),  # before minutes of detection
    multiple=True,
    default=(0.01, 0.1),
    show_default=True,
    help="With --identities: a false accept rate to report DIR and the threshold at (repeatable).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="With --identities: which identities are left out.",
)
@_model_options
@_JSON
@PROGRESS
@_friendly
def evaluate(
    lfw_pairs: str | None,
    images: str | None,
    identities: str | None,
    unknown_fraction: float,
    fars: tuple[float, ...],
    seed: int,
    model: str,
    detector: str,
    upsample: int,
    as_json: bool,
) -> None:
    """Score a face model on LFW-style pairs (10-fold accuracy, each fold's threshold chosen on
    the other nine) or on an identities folder (open-set 1:N: a seeded --unknown-fraction of the
    identities is not enrolled; the others enroll their first image and probe with the rest).
    An image without a face is embedded from a centred box and listed; a file that is not a
    readable image stops the evaluation with one sentence.

    \b
    Examples:
      siamkit face evaluate --lfw-pairs lfw/pairs.txt --images lfw/ --json
      siamkit face evaluate --identities staff_photos/ --far 0.01
    """
    if (lfw_pairs is None) == (identities is None) or (lfw_pairs is None) != (images is None):
        raise click.UsageError("give either --lfw-pairs and --images, or --identities")
    if lfw_pairs is not None:  # they were ignored: pairs have their own folds and no gallery
        from siamkit.cli._inputs import given_on_command_line

        ctx = click.get_current_context()
        flags = {"unknown_fraction": "--unknown-fraction", "fars": "--far", "seed": "--seed"}
        given = [flag for name, flag in flags.items() if given_on_command_line(ctx, name)]
        if given:
            raise click.UsageError(
                f"{listed(given)} {in_number(len(given), 'is', 'are')} for --identities "
                "only (LFW pairs have their own folds): leave "
                f"{'it' if len(given) == 1 else 'them'} out"
            )
    from siamkit.applications.faces.evaluate import evaluate_identities, evaluate_lfw
    from siamkit.applications.faces.lfw import read_lfw_pairs

    pipe = _pipeline(model, detector, upsample)
    if lfw_pairs is not None:
        res = evaluate_lfw(pipe, read_lfw_pairs(lfw_pairs, images))  # type: ignore[arg-type]
        acc = res.accuracy
        doc: dict[str, Any] = {
            "lfw": {
                "accuracy": acc.mean,
                "std": acc.std,
                "fold_accuracy": acc.fold_accuracy.tolist(),
                "fold_threshold": acc.fold_threshold.tolist(),
            },
            "no_face": [str(p) for p in res.no_face],
        }
        text = f"LFW {len(acc.fold_accuracy)}-fold accuracy {acc.mean:.4f} ± {acc.std:.4f}"
    else:
        with data_warnings_as_lines():  # what the listing leaves out: one line each, as enroll
            out, no_face = evaluate_identities(pipe, identities, unknown_fraction, 1, fars, seed)  # type: ignore[arg-type]
        doc = {
            "identification": {
                "rank1": out.rank1,
                "dir_at_far": {str(k): v for k, v in out.dir_at_far.items()},
                "threshold_at_far": {str(k): v for k, v in out.thresholds.items()},
                "num_known_probes": out.num_known,
                "num_unknown_probes": out.num_unknown,
            },
            "no_face": [str(p) for p in no_face],
        }
        text = _identities_text(out)
    if doc["no_face"]:
        none = counted(len(doc["no_face"]), "image")
        text += f"\nnote: no face detected in {none}; embedded a centred box"
    _emit(as_json, doc, text)
