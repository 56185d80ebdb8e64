"""Reading video files with OpenCV (``opencv-python-headless``, the ``video`` extra).

Frames come out as RGB ``uint8`` arrays ``(H, W, 3)``. A file that cannot be opened or decoded
raises a ``ValueError`` naming the file and the codec.

>>> frames = read_video("/usr/share/doc/opencv-doc/examples/data/tree.avi", max_frames=2)  # doctest: +SKIP
>>> frames.shape  # doctest: +SKIP
(2, 240, 320, 3)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "video needs OpenCV: pip install 'siamkit[video]' (opencv-contrib-python-headless)"
        ) from None
    return cv2


@dataclass(frozen=True)
class VideoInfo:
    """What OpenCV reports about a video: size, frame rate, frame count (may be 0) and codec."""

    width: int
    height: int
    fps: float
    n_frames: int
    codec: str


def _fourcc(code: float) -> str:
    value = int(code)
    text = "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else f"0x{value:08x}"


def open_video(path: str | os.PathLike[str]) -> tuple[Any, VideoInfo]:
    """Open ``path`` and read its properties; the capture is positioned at the first frame.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is empty, its header counts no frame, or OpenCV cannot open it or
            cannot decode its first frame (the codec is named).
    """
    cv2 = _cv2()
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no video file at {p}")
    if p.stat().st_size == 0:  # OpenCV said "no backend reads this container or codec"
        raise ValueError(f"the video file {p} is empty (0 bytes); give a video with frames")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise ValueError(
            f"cannot open video {p}: OpenCV found no backend that reads this container or codec, "
            "or the file is damaged or holds no frame (a recording stopped before its first); "
            "check that a video player plays it, or convert it: ffmpeg -i VIDEO out.mp4"
        )
    codec = _fourcc(cap.get(cv2.CAP_PROP_FOURCC))
    info = VideoInfo(
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
        n_frames=max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
        codec=codec,
    )
    counts_none = cap.get(cv2.CAP_PROP_FRAME_COUNT) == 0  # a header that counts no frame
    ok, _ = cap.read()
    if not ok:
        cap.release()
        if counts_none:  # a writer closed before its first frame: "cannot decode" blamed the codec
            raise ValueError(
                f"the video {p} has no frames (its header counts 0); give a video with frames"
            )
        raise ValueError(f"cannot decode video {p}: no frame could be read with codec {codec!r}")
    if info.n_frames:  # opened again, not seeked back: after the only frame of a one-frame
        # video was read, a seek to frame 0 read nothing more ("has no video frames to read")
        cap.release()
        cap = cv2.VideoCapture(str(p))
    else:  # no count (a photo opens so): seeked back, and a photo then reads nothing more
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    return cap, info


def iter_video(
    path: str | os.PathLike[str], start: int = 0, progress: bool = False
) -> Iterator[np.ndarray]:
    """Yield the frames ``start, start + 1, ...`` of ``path`` as RGB ``(H, W, 3)`` uint8 arrays.

    The frames before ``start`` are decoded and dropped, not seeked over: OpenCV's
    ``CAP_PROP_POS_FRAMES`` lands on the nearest keyframe for some codecs and containers, so the
    first frame yielded would not always be frame ``start``. ``progress`` shows that skip (a bar
    on a terminal, a few plain lines in a log).

    Raises:
        ValueError: ``start`` is negative, or the video ends before frame ``start`` (its frame
            count is named).
    """
    if start < 0:
        raise ValueError(f"the start frame must be 0 or more, got {start}")
    cv2 = _cv2()
    cap, _ = open_video(path)
    try:
        if start:
            from siamkit.progress import progress_bar

            skip = progress_bar(
                range(start), f"skip to frame {start}", start, "frames", progress, parts=10
            )
            for i in skip:
                if not cap.grab():  # decodes without the colour conversion a read would add
                    raise _past_the_end(path, i, start)
        first = True
        while True:
            ok, frame = cap.read()
            if not ok:
                if first and start:
                    raise _past_the_end(path, start, start)
                return
            first = False
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _past_the_end(path: str | os.PathLike[str], n_frames: int, start: int) -> ValueError:
    if n_frames == 0:  # not even frame 0: "0 frames (0 to -1) ... below 0" would mean nothing
        return ValueError(f"{path} has no frames that can be decoded")
    return ValueError(
        f"{path} has only {n_frames} frames (0 to {n_frames - 1}), so there is no frame {start}; "
        f"start at a frame below {n_frames}"
    )


def read_video(
    path: str | os.PathLike[str],
    max_frames: int | None = None,
    step: int = 1,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Read frames ``0, step, 2*step, ...`` (at most ``max_frames``) as ``(T, H, W, 3)`` RGB uint8.

    Args:
        path: the video file.
        max_frames: stop after this many frames (all when None).
        step: keep every ``step``-th frame.
        size: resize every frame to ``(width, height)``.
    """
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    cv2 = _cv2()
    out: list[np.ndarray] = []
    for i, frame in enumerate(iter_video(path)):
        if i % step:
            continue
        if size is not None:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        out.append(frame)
        if max_frames is not None and len(out) >= max_frames:
            break
    return np.stack(out)
