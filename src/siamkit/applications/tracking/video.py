"""Track an object through a video file: annotated output video and per-frame boxes, written atomically.

>>> summary = track_video(SiamFCTracker(net), "video.mp4", (310, 120, 60, 140), out_video="tracked.mp4")  # doctest: +SKIP
>>> summary.fps  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import itertools
import os
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2
import numpy as np

from siamkit.applications.tracking.tracker import SiamFCTracker, TrackResult, check_box
from siamkit.atomic import atomic_path, same_file
from siamkit.clauses import listed
from siamkit.data.video import VideoInfo, iter_video, open_video
from siamkit.progress import progress_bar

_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".mov": "mp4v"}
VIDEO_EXTENSIONS = tuple(_FOURCC)  # what ``out_video`` may end with


@dataclass(frozen=True)
class VideoTrackSummary:
    """What :func:`track_video` did: frames, tracking-only fps and the files it wrote."""

    n_frames: int
    fps: float
    boxes: np.ndarray  # (N, 4)
    scores: np.ndarray  # (N,)
    out_video: Path | None
    boxes_csv: Path | None
    expected_frames: int = 0  # what the video's header announced for the tracked range (0: unknown)
    start_frame: int = 0  # the video's number of the first tracked frame (the one with the box)

    @property
    def short(self) -> bool:
        """Fewer frames could be read than the header announced (a truncated or damaged file)."""
        return bool(self.expected_frames) and self.n_frames < self.expected_frames


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


BOXES_HEADER = "frame,x,y,w,h,score"
"""The first line of the CSV :func:`track_video` writes."""


def _is_boxes_csv(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is empty or starts with :data:`BOXES_HEADER` (a file to replace)."""
    with open(path, "rb") as fh:
        head = fh.read(len(BOXES_HEADER) + 2)
    return not head or head.split(b"\n")[0].rstrip(b"\r") == BOXES_HEADER.encode()


def check_outputs(
    video: str | os.PathLike[str],
    out_video: str | os.PathLike[str] | None = None,
    boxes_csv: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse, before any work, outputs that cannot be written or would destroy an input: a video
    name OpenCV has no writer for, an output that is the input video, one file for both, or a
    ``boxes_csv`` that exists and is no boxes CSV (an earlier run's is replaced; a gallery or
    any other file given by mistake was overwritten)."""
    src = Path(video)
    if out_video is not None and Path(out_video).suffix.lower() not in _FOURCC:
        raise ValueError(
            f"cannot write the video {out_video}: give --out a file name ending in "
            f"{listed(VIDEO_EXTENSIONS, 'or')}"
        )
    for option, path in (("--out", out_video), ("--boxes", boxes_csv)):
        if path is not None and same_file(Path(path), src):
            raise ValueError(
                f"{option} {path} is the input video, which it would overwrite; write to another file"
            )
    if (
        out_video is not None
        and boxes_csv is not None
        and same_file(Path(out_video), Path(boxes_csv))
    ):
        raise ValueError(
            f"--out and --boxes are the same file ({out_video}); give each its own file name"
        )
    if boxes_csv is not None and Path(boxes_csv).is_file() and not _is_boxes_csv(boxes_csv):
        raise ValueError(
            f"--boxes {boxes_csv} exists and is not a boxes CSV (its first line is not "
            f"{BOXES_HEADER}), so writing it would destroy it; give a new file name, or remove "
            "that file first"
        )


def check_start(
    video: str | os.PathLike[str],
    box: Sequence[float],
    start_frame: int = 0,
    max_frames: int | None = None,
) -> VideoInfo:
    """Refuse, before any work, a start frame or frame limit the video cannot honour and a box
    that does not fit its frames; the video's properties otherwise.

    A start frame at or past the frame count the header announces is refused here (the message
    says the count is the header's: an estimate for some containers); when the header gives no
    count, :func:`track_video` finds out while skipping to it.
    """
    if start_frame < 0:
        raise ValueError(
            f"--start-frame {start_frame} is negative; give a frame number from 0 (the first frame)"
        )
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"--frames {max_frames} tracks nothing; give 1 or more")
    cap, info = open_video(video)  # fails early with a sentence naming the file and codec
    cap.release()
    if info.n_frames and start_frame >= info.n_frames:
        raise ValueError(
            f"--start-frame {start_frame} is past the end of {video}, which has {info.n_frames} "
            f"frames by its header (0 to {info.n_frames - 1}); give a start frame below "
            f"{info.n_frames}"
        )
    check_box(box, (info.height, info.width))
    return info


def _writer(path: Path, fps: float, size: tuple[int, int], name: Path) -> cv2.VideoWriter:
    code = _FOURCC[name.suffix.lower()]  # checked by check_outputs
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*code), fps or 25.0, size)
    if not writer.isOpened():
        raise ValueError(
            f"OpenCV cannot write {name} with codec {code!r}; try another ending: "
            f"{', '.join(VIDEO_EXTENSIONS)}"
        )
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
    start_frame: int = 0,
    max_frames: int | None = None,
) -> VideoTrackSummary:
    """Track from ``box`` in frame ``start_frame`` to the end, or for at most ``max_frames``
    frames; outputs appear only when complete.

    The frames before ``start_frame`` are skipped (decoded, not seeked over: see
    :func:`~siamkit.data.video.iter_video`): the output video starts at frame ``start_frame``
    and the CSV's ``frame`` column, like ``on_frame``'s first argument, is the video's frame
    number. Outputs, start frame and box are checked first (:func:`check_outputs`,
    :func:`check_start`), and the skip is done before an output file is created. Whatever stops
    the loop (an error, Ctrl-C, ``SystemExit`` from a SIGTERM handler) removes the temporary
    files and leaves existing files as they were. ``progress``: a bar on a terminal, else a plain
    line per tenth of the frames (the skip too).
    """
    check_outputs(video, out_video, boxes_csv)
    info = check_start(video, box, start_frame, max_frames)
    expected = max(info.n_frames - start_frame, 0)
    if max_frames is not None and expected:
        expected = min(expected, max_frames)
    tracker.keep_response = show_response
    boxes, scores, seconds = [], [], 0.0
    with ExitStack() as stack:
        frames = cast(Generator[np.ndarray, None, None], iter_video(video, start_frame, progress))
        stack.callback(frames.close)  # releases the capture at once, whatever stops the loop
        first = next(frames, None)  # frame start_frame: skipped to before any output exists
        if first is None:
            raise ValueError(  # a photo opens, and reads nothing ("has no frames" said no more)
                f"{video} has no video frames to read (a photo, or an empty video); give a video "
                f"file ({', '.join(VIDEO_EXTENSIONS)}, ...) to track through"
            )
        init_box = check_box(box, first.shape)
        limited = itertools.islice(itertools.chain([first], frames), max_frames)
        with ExitStack() as outputs:  # each output is renamed over its path only when complete
            tmp_video = tmp_csv = None
            if out_video is not None:
                suffix = Path(out_video).suffix
                tmp_video = outputs.enter_context(atomic_path(out_video, suffix=suffix))
            if boxes_csv is not None:
                tmp_csv = outputs.enter_context(
                    atomic_path(boxes_csv, suffix=Path(boxes_csv).suffix)
                )
            writer = None
            bar = progress_bar(
                limited, "track", expected or max_frames, "frames", enabled=progress, parts=10
            )
            for i, frame in enumerate(bar):
                if i == 0:  # the exemplar: no frame tracked, so not in the fps (as evaluate's)
                    tracker.init(frame, init_box)
                    result = TrackResult(np.asarray(box, dtype=np.float64), 1.0)
                else:
                    t0 = time.perf_counter()
                    result = tracker.update(frame)
                    seconds += time.perf_counter() - t0
                boxes.append(result.box)
                scores.append(result.score)
                if tmp_video is not None and out_video is not None:
                    if writer is None:
                        size = (frame.shape[1], frame.shape[0])
                        writer = _writer(tmp_video, info.fps, size, Path(out_video))
                        outputs.callback(writer.release)
                    writer.write(
                        cv2.cvtColor(draw_result(frame, result, show_response), cv2.COLOR_RGB2BGR)
                    )
                if on_frame:
                    on_frame(start_frame + i, result)
                bar.set_postfix(fps=f"{i / seconds:.1f}" if seconds else "-")
            if tmp_csv is not None:
                with tmp_csv.open("w", newline="") as fh:
                    w = csv.writer(fh)
                    w.writerow(BOXES_HEADER.split(","))
                    for i, (b, s) in enumerate(zip(boxes, scores)):
                        w.writerow([start_frame + i, *(f"{v:.2f}" for v in b), f"{s:.4f}"])
    n = len(boxes)
    return VideoTrackSummary(
        n,
        (n - 1) / seconds if seconds else 0.0,
        np.stack(boxes),
        np.asarray(scores),
        Path(out_video) if out_video else None,
        Path(boxes_csv) if boxes_csv else None,
        expected,
        start_frame,
    )
