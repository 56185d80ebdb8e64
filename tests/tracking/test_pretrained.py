"""The tracker shipped in the package loads, is small, and follows a square over real video."""

from __future__ import annotations

import numpy as np

from siamkit.applications.tracking.metrics import iou
from siamkit.applications.tracking.pretrained import PRETRAINED_DIR, load_pretrained_tracker
from siamkit.applications.tracking.tracker import SiamFCTracker
from siamkit.data.synthetic_tracking import linear_square_sequence


def test_pretrained_tracker_is_small_and_tracks() -> None:
    assert (PRETRAINED_DIR / "model.safetensors").stat().st_size < 10 * 2**20
    net = load_pretrained_tracker()
    assert net.backbone_name == "small"
    # a square of a new texture moving diagonally over tree.avi (not a training video)
    seq = linear_square_sequence(n_frames=30, size=36, velocity=(6.0, 3.0), seed=7).to_sequence()
    boxes = np.stack([r.box for r in SiamFCTracker(net).track(seq.frames, seq.boxes[0])])  # type: ignore[arg-type]
    assert iou(boxes, seq.boxes).min() > 0.5
