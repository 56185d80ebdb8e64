"""Track an object through a video file: annotated output video and per-frame boxes, written atomically.

>>> summary = track_video(SiamFCTracker(net), "video.mp4", (310, 120, 60, 140), out_video="tracked.mp4")  # doctest: +SKIP
>>> summary.fps  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from siamkit.applications.tracking.tracker import SiamFCTracker, TrackResult, check_box
from siamkit.atomic import atomic_path
from siamkit.data.video import iter_video, open_video

_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".mov": "mp4v"}


@dataclass(frozen=True)
class VideoTrackSummary:
    """What :func:`track_video` did: frames, tracking-only fps and the files it wrote."""

    n_frames: int
    fps: float
    boxes: np.ndarray  # (N, 4)
    scores: np.ndarray  # (N,)
    out_video: Path | None
    boxes_csv: Path | None


def draw_result(frame: np.ndarray, result: TrackResult, show_response: bool = False) -> np.ndarray:
    """An annotated copy of ``frame`` (RGB): the box, its score and optionally the response map."""
    out = frame.copy()
    if show_response and result.response is not None and result.response_box is not None:
        x, y, side = (round(float(v)) for v in result.response_box[:3])
        side = max(side, 1)
        r = result.response - result.response.min()
        heat = cv2.applyColorMap((255 * r / (r.max() + 1e-12)).astype(np.uint8), cv2.COLORMAP_JET)[
            ..., ::-1
        ]
        heat = cv2.resize(heat, (side, side))
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + side, out.shape[1]), min(y + side, out.shape[0])
        if x1 > x0 and y1 > y0:
            patch = heat[y0 - y : y1 - y, x0 - x : x1 - x]
            out[y0:y1, x0:x1] = cv2.addWeighted(out[y0:y1, x0:x1], 0.55, patch, 0.45, 0)
    bx, by, bw, bh = (round(float(v)) for v in result.box)
    cv2.rectangle(out, (bx, by), (bx + bw, by + bh), (255, 40, 40), 2)
    cv2.putText(
        out,
        f"{result.score:.2f}",
        (bx, max(by - 5, 12)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (255, 255, 0),
        1,
    )
    return out


def _writer(path: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    code = _FOURCC.get(path.suffix.lower())
    if code is None:
        raise ValueError(f"cannot write {path}: use a .mp4, .avi, .mkv or .mov file name")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*code), fps or 25.0, size)
    if not writer.isOpened():
        raise ValueError(f"OpenCV cannot write {path} with codec {code!r}")
    return writer


def track_video(
    tracker: SiamFCTracker,
    video: str | os.PathLike[str],
    box: Sequence[float],
    out_video: str | os.PathLike[str] | None = None,
    boxes_csv: str | os.PathLike[str] | None = None,
    show_response: bool = False,
    progress: bool = False,
    on_frame: Callable[[int, TrackResult], None] | None = None,
) -> VideoTrackSummary:
    """Track from ``box`` in the first frame to the end; outputs appear only when complete."""
    _, info = open_video(video)  # fails early with a sentence naming the file and codec
    targets = [Path(p) for p in (out_video, boxes_csv) if p is not None]
    tracker.keep_response = show_response
    boxes, scores, seconds = [], [], 0.0
    with ExitStack() as outputs:  # each output is renamed over its path only when complete
        temps = {p: outputs.enter_context(atomic_path(p, suffix=p.suffix)) for p in targets}
        with ExitStack() as stack:
            writer = None
            frames = iter_video(video)
            bar = stack.enter_context(
                tqdm(total=info.n_frames or None, disable=not progress, desc="track", unit="frame")
            )
            for i, frame in enumerate(frames):
                t0 = time.perf_counter()
                if i == 0:
                    tracker.init(frame, check_box(box, frame.shape))
                    result = TrackResult(np.asarray(box, dtype=np.float64), 1.0)
                else:
                    result = tracker.update(frame)
                seconds += time.perf_counter() - t0
                boxes.append(result.box)
                scores.append(result.score)
                if out_video is not None:
                    if writer is None:
                        writer = _writer(
                            temps[Path(out_video)], info.fps, (frame.shape[1], frame.shape[0])
                        )
                        stack.callback(writer.release)
                    writer.write(
                        cv2.cvtColor(draw_result(frame, result, show_response), cv2.COLOR_RGB2BGR)
                    )
                if on_frame:
                    on_frame(i, result)
                bar.update(1)
                bar.set_postfix(fps=f"{i / seconds:.1f}" if seconds else "-")
        if not boxes:
            raise ValueError(f"{video} has no frames")
        if boxes_csv is not None:
            with temps[Path(boxes_csv)].open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["frame", "x", "y", "w", "h", "score"])
                for i, (b, s) in enumerate(zip(boxes, scores)):
                    w.writerow([i, *(f"{v:.2f}" for v in b), f"{s:.4f}"])
    n = len(boxes)
    return VideoTrackSummary(
        n,
        (n - 1) / seconds if seconds else 0.0,
        np.stack(boxes),
        np.asarray(scores),
        Path(out_video) if out_video else None,
        Path(boxes_csv) if boxes_csv else None,
    )
