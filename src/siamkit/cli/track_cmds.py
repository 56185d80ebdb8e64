"""``siamkit track`` and ``siamkit evaluate-tracking``: follow an object through a video with SiamFC."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from siamkit.clauses import counted
from siamkit.cli._inputs import PROGRESS, friendly_errors, given_on_command_line

VIDEO_ENDINGS = ".mp4, .avi, .mkv or .mov"  # applications.tracking.video.VIDEO_EXTENSIONS


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"310,120,60,140"`` -> ``(310.0, 120.0, 60.0, 140.0)``; a click error otherwise (the
    box rules are :func:`~siamkit.applications.tracking.metrics.box_faults`)."""
    import numpy as np

    from siamkit.applications.tracking.metrics import BoxFault, box_faults

    parts = [p for p in text.replace(" ", "").split(",") if p != ""]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    fault = box_faults(np.array(values))[0] if len(values) == 4 else BoxFault.NOT_FINITE
    if fault == BoxFault.NOT_FINITE:
        raise click.BadParameter(
            f"{text!r} is not four finite numbers x,y,w,h (e.g. 310,120,60,140)",
            param_hint="--box",
        )
    if fault == BoxFault.NEGATIVE_SIZE:
        raise click.BadParameter(
            f"{text!r} has a negative width or height; give x,y,w,h with w and h above 0",
            param_hint="--box",
        )
    if fault == BoxFault.ZERO_AREA:
        raise click.BadParameter(
            f"{text!r} has zero area; give x,y,w,h with w and h above 0", param_hint="--box"
        )
    return values  # type: ignore[return-value]


def load_tracker_model(path: str | None, command: str = "track") -> Any:
    """The SiamFC network at ``path`` (or the built-in one); a clear error for any other model
    kind, telling how ``command`` picks the built-in tracker."""
    from siamkit.applications.tracking.model import SiamFCNet
    from siamkit.applications.tracking.pretrained import load_pretrained_tracker

    if path is None:
        return load_pretrained_tracker()
    from siamkit.export.bundle import load_model, read_model_config

    kind = read_model_config(path).get("model", {}).get("kind")
    if kind != SiamFCNet.kind:
        leave_out = "--model" if command == "track" else "MODEL"
        raise click.ClickException(
            f"{path} is a {kind!r} model, not a tracker; {command} needs a model trained with "
            f"'task: siamfc' (or leave out {leave_out} to use the built-in tracker)"
        )
    return load_model(path)


def _json_number(v: float | int) -> float | int | None:
    """Counts as ints, scores rounded to 4 places; NaN (a sequence with no scored frame) as null."""
    if isinstance(v, int):
        return v
    return round(v, 4) if math.isfinite(v) else None


NO_SCORED_FRAME = (
    "no frame scored (a sequence's first frame is the box it starts from, so it needs a later "
    "frame with a ground-truth box)"
)


def _scores_line(scores: Any) -> str:
    """``success AUC 0.531, precision@20 0.707``, or why there is none (NaN said nothing)."""
    if not scores.n_frames:
        return NO_SCORED_FRAME
    return f"success AUC {scores.success_auc:.3f}, precision@20 {scores.precision_20:.3f}"


@click.command("track")
@click.argument("video", type=click.Path(dir_okay=False))
@click.option(
    "--box",
    required=True,
    help="The object in the start frame (the first unless --start-frame): x,y,w,h in pixels, "
    "x,y its top-left corner (0,0: the frame's) and w,h its width and height.",
)
@click.option(
    "--start-frame",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Frame of VIDEO (0-based) that --box is drawn in; the frames before it are skipped "
    "and left out of --out.",
)
@click.option(
    "--frames",
    "max_frames",
    type=click.IntRange(min=1),
    help="Track at most this many frames, the start frame included; default: to the end.",
)
@click.option(
    "--out",
    "out_video",
    type=click.Path(dir_okay=False),
    help=f"Annotated video to write ({VIDEO_ENDINGS}); it starts at the start frame.",
)
@click.option(
    "--boxes",
    "boxes_csv",
    type=click.Path(dir_okay=False),
    help="CSV of frame,x,y,w,h,score; frame is the video's frame number. An existing file is "
    "replaced only if it is such a CSV (an earlier run's).",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(file_okay=False),
    help="A tracker saved by 'siamkit train' (task: siamfc); default: the built-in one.",
)
@click.option(
    "--onnx",
    "onnx_dir",
    type=click.Path(file_okay=False),
    help="Track with a folder written by 'siamkit export-tracker' (ONNX Runtime backbone).",
)
@click.option(
    "--show-response",
    is_flag=True,
    help="Overlay the response map on the --out video, to see why the tracker drifts.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="CPU threads for torch, and for ONNX Runtime with --onnx.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@PROGRESS
@friendly_errors
def track(
    video: str,
    box: str,
    start_frame: int,
    max_frames: int | None,
    out_video: str | None,
    boxes_csv: str | None,
    model_path: str | None,
    onnx_dir: str | None,
    show_response: bool,
    threads: int,
    as_json: bool,
) -> None:
    """Follow the object in BOX through VIDEO with a Siamese tracker (SiamFC).

    \b
    Examples:
      siamkit track video.mp4 --box 310,120,60,140 --out tracked.mp4 --boxes boxes.csv
      siamkit track video.mp4 --box 310,120,60,140 --model runs/siamfc/model --show-response --out r.mp4
      siamkit track video.mp4 --start-frame 1500 --frames 300 --box 310,120,60,140 --boxes boxes.csv
    """
    import torch

    from siamkit.applications.tracking.tracker import SiamFCTracker
    from siamkit.applications.tracking.video import check_outputs, check_start, track_video
    from siamkit.progress import is_enabled as progress_enabled

    xywh = parse_box(box)
    if onnx_dir and model_path:
        raise click.UsageError("give --model or --onnx, not both")
    if show_response and out_video is None:
        raise click.UsageError(
            "--show-response draws on the annotated video, so give --out VIDEO as well"
        )
    check_outputs(video, out_video, boxes_csv)  # before the model loads or a frame is read
    check_start(video, xywh, start_frame, max_frames)
    if onnx_dir:
        from siamkit.applications.tracking.onnx import OnnxSiamFC

        net: Any = OnnxSiamFC(onnx_dir, threads=threads)
    else:
        net = load_tracker_model(model_path)
    torch.set_num_threads(threads)
    summary = track_video(
        SiamFCTracker(net),
        video,
        xywh,
        out_video,
        boxes_csv,
        show_response,
        progress=not as_json and progress_enabled(),
        start_frame=start_frame,
        max_frames=max_frames,
    )
    last_frame = start_frame + summary.n_frames - 1
    if summary.short:
        since = f" from frame {start_frame}" if start_frame else ""
        click.echo(
            f"warning: only {summary.n_frames} of the {summary.expected_frames} frames{since} of "
            f"{video} could be read (truncated or damaged file), so the outputs stop there",
            err=True,
        )
    doc = {
        "start_frame": start_frame,
        "last_frame": last_frame,
        "frames": summary.n_frames,
        "frames_expected": summary.expected_frames or None,
        "fps": round(summary.fps, 2) if summary.n_frames > 1 else None,  # none was tracked
        "out": out_video,
        "boxes": boxes_csv,
        "last_box": [round(float(v), 2) for v in summary.boxes[-1]],
        "mean_score": float(summary.scores.mean()),
    }
    if as_json:
        click.echo(json.dumps(doc))
        return
    span = f" ({start_frame} to {last_frame})" if start_frame or max_frames else ""
    if summary.n_frames == 1:  # the start frame takes --box as it is: "at 0.0 fps" before
        why = "--frames 1" if max_frames == 1 else f"it is the last frame of {video}"
        click.echo(
            f"tracked 1 frame ({start_frame}): the start frame only ({why}), whose box is --box "
            "as given; no frame followed it to track, so no fps"
        )
    else:
        click.echo(
            f"tracked {summary.n_frames} frames{span} at {summary.fps:.1f} fps (tracking only)"
        )
    for label, p in (("video", out_video), ("boxes", boxes_csv)):
        if p:
            click.echo(f"{label}: {p}")


@click.command("evaluate-tracking")
@click.argument("model_path", metavar="[MODEL]", required=False)
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False),  # "no sequence folder at X" named no option
    help="A folder of sequence folders (or one): GOT-10k (SEQ/*.jpg + SEQ/groundtruth.txt) or "
    "OTB (SEQ/img/*.jpg + SEQ/groundtruth_rect.txt), one x,y,w,h line per frame.",
)
@click.option(
    "--synthetic",
    type=click.Choice(["train", "val", "test"]),
    help="Instead of --data: synthetic sequences of this split.",
)
@click.option(
    "--n-sequences",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="How many synthetic sequences (with --synthetic; refused with --data).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False),
    help="Write an HTML report with the plots and annotated frames.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="CPU threads for torch.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the scores as JSON: overall and one row per sequence.",
)
@PROGRESS
@friendly_errors
def evaluate_tracking(
    model_path: str | None,
    data: str | None,
    synthetic: str | None,
    n_sequences: int,
    report: str | None,
    threads: int,
    as_json: bool,
) -> None:
    """OTB-style evaluation of a tracker MODEL (default: the built-in one): success AUC, precision@20px.

    \b
    Examples:
      siamkit evaluate-tracking runs/siamfc/model --data SEQUENCES_DIR --report report.html
      siamkit evaluate-tracking --synthetic test --report report.html
    """
    import torch

    from siamkit.applications.tracking.evaluate import evaluate_tracker
    from siamkit.applications.tracking.report import annotated_frames, write_tracking_report
    from siamkit.applications.tracking.tracker import SiamFCTracker
    from siamkit.data.synthetic_tracking import synthetic_sequences
    from siamkit.data.tracking_sequences import read_sequences

    if (data is None) == (synthetic is None):
        raise click.UsageError("give exactly one of --data DIR or --synthetic SPLIT")
    if data is not None and given_on_command_line(click.get_current_context(), "n_sequences"):
        raise click.UsageError(
            "--n-sequences sets how many --synthetic sequences to make, and --data evaluates "
            "every sequence in its folder: leave --n-sequences out"
        )
    if report:  # before the tracker runs, not after
        from siamkit.evaluation.report import check_report_path

        check_report_path(report)
    if synthetic and not as_json:  # seconds (reading the background videos) with nothing shown
        from siamkit.progress import step

        sequences = counted(n_sequences, f"synthetic {synthetic} sequence")
        step(f"making {sequences} of 100 frames (640x480)")
    seqs: Any = (
        read_sequences(data)
        if data
        else synthetic_sequences(synthetic or "test", n_sequences, 100, (640, 480))
    )
    net = load_tracker_model(model_path, "evaluate-tracking")
    torch.set_num_threads(threads)
    frames: list[tuple[str, list[bytes]]] = []

    def keep(run: Any, seq: Any) -> None:
        if report:
            frames.append((run.name, annotated_frames(seq, run.boxes)))
        if not as_json:
            click.echo(f"{run.name}: {_scores_line(run.scores)}")

    scores, runs = evaluate_tracker(lambda: SiamFCTracker(net), seqs, keep, progress=not as_json)
    name = Path(model_path).name if model_path else "built-in siamfc-small"
    if report:
        note = (
            f"data: {data}"
            if data
            else f"synthetic {synthetic} split ({n_sequences} sequences, 640x480)"
        )
        write_tracking_report(
            report,
            f"Tracking evaluation: {name}",
            {name: scores},
            [(r.name, r.scores) for r in runs],
            frames,
            note,
        )
    if as_json:
        doc: dict[str, Any] = {k: _json_number(v) for k, v in scores.as_dict().items()}
        doc["sequences"] = [
            {
                "name": r.name,
                "frames": len(r.boxes),
                "scored_frames": r.scores.n_frames,
                "success_auc": _json_number(r.scores.success_auc),
                "precision_20": _json_number(r.scores.precision_20),
                "frames_lost": r.scores.frames_lost,
            }
            for r in runs
        ]
        click.echo(json.dumps(doc))
    else:
        if scores.n_frames:
            click.echo(
                f"overall: {_scores_line(scores)}, frames lost "
                f"{scores.frames_lost}/{scores.n_frames}, {scores.fps:.1f} fps"
            )
        else:  # "success AUC nan, precision@20 nan, frames lost 0/0, 0.0 fps"
            click.echo(f"overall: {NO_SCORED_FRAME}; give sequences of two frames or more")
        if report:
            click.echo(f"report: {report}")


@click.command("export-tracker")
@click.argument("model_path", metavar="[MODEL]", required=False)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for backbone.onnx + tracker.json.",
)
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Replace backbone.onnx and tracker.json in --out (--overwrite is the same).",
)
@friendly_errors
def export_tracker(model_path: str | None, out: str, force: bool) -> None:
    """Export a tracker MODEL (default: the built-in one) for ONNX Runtime: `siamkit track --onnx OUT`.

    The ONNX backbone is checked against the torch one on a few crops before anything is
    written (where onnxruntime is installed; the output says when it was not). Existing files
    in --out are replaced only with --force.

    \b
    Examples:
      siamkit export-tracker runs/siamfc/model --out tracker-onnx
      siamkit track video.mp4 --box 310,120,60,140 --onnx tracker-onnx --out tracked.mp4
    """
    import warnings

    from siamkit.applications.tracking.onnx import export_tracker_onnx
    from siamkit.atomic import check_writable_folder
    from siamkit.export.onnx import ParityNotCheckedWarning

    try:  # notes.txt/tk: refused before the model loads, not as mkdir's traceback after
        check_writable_folder(out, f"--out {out}")
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    net = load_tracker_model(model_path, "export-tracker")
    try:
        with warnings.catch_warnings():  # said below in the command's own words
            warnings.simplefilter("ignore", ParityNotCheckedWarning)
            done = export_tracker_onnx(net, out, force=force)
    except FileExistsError as err:
        raise click.UsageError(str(err)) from None
    if done.max_abs_diff is None:
        checked = (
            "not checked against the torch backbone (onnxruntime is not installed: pip install "
            "'siamkit[onnx]' and export again with --force to check it)"
        )
    else:
        checked = (
            f"max |torch - onnx| = {done.max_abs_diff:.1e} on the backbone's features: it "
            "tracks as the torch model"
        )
    click.echo(f"ONNX tracker: {done.folder}, {checked}")
