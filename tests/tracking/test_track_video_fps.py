"""track_video's fps is of the tracker's updates only, as evaluate_tracker's and the CLI's
'fps (tracking only)' say: the first frame's exemplar embedding is no tracked frame."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from siamkit.applications.tracking.tracker import TrackResult
from siamkit.applications.tracking.video import track_video


class _SlowStart:
    """Takes 0.4 s to take its exemplar and 0.02 s per update; stays where it started."""

    keep_response = False

    def init(self, frame: np.ndarray, box: object) -> None:
        time.sleep(0.4)
        self.box = np.asarray(box, dtype=np.float64)

    def update(self, frame: np.ndarray) -> TrackResult:
        time.sleep(0.02)
        return TrackResult(self.box, 0.5)


def test_the_fps_leaves_the_first_frames_exemplar_out(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48))
    for k in range(4):
        w.write(np.full((48, 64, 3), 40 * k, np.uint8))
    w.release()
    summary = track_video(_SlowStart(), video, (10, 10, 20, 20))  # type: ignore[arg-type]
    assert summary.n_frames == 4
    # 3 updates of at least 0.02 s: at most 50 fps, and well above 3 / 0.4 s = 7.5 fps unless the
    # machine stalls for a quarter second; with the 0.4 s exemplar counted it was 6.5 fps
    assert 3 / 0.3 < summary.fps <= 3 / 0.06
