"""Tracking: siamkit's SiamFC vs OpenCV's TrackerMIL, KCF and CSRT on held-out synthetic sequences.

The sequences are the *test* split of :mod:`siamkit.data.synthetic_tracking` (synthetic): objects
from held-out sources (Fashion-MNIST classes 6-9 test images, crops of Megamind.avi, textures)
pasted into ``Megamind.avi`` (a video never used for training or validation), 640×480, with scale
change, rotation, illumination change, motion blur, occluders and distractors. Each sequence is
rendered once and every tracker runs on the same frames, initialised on the first ground-truth
box (OTB one-pass evaluation). The siamkit model also runs with its backbone exported to ONNX
(ONNX Runtime + NumPy correlation). Scores pool the frames after the first: success AUC (21 IoU
thresholds), precision at 20 px, frames lost (IoU 0), and fps of the tracker's update calls alone.

OpenCV's trackers get BGR frames (their convention) and, when ``update`` reports failure, keep
their last box. torch and OpenCV both run with ``--threads`` threads (default 1: a shared machine).
``--alexnet-frames`` also times the AlexNet-like backbone (untrained weights; speed only).

Run:  nice python benchmarks/bench_tracking.py [--model runs/siamfc-small/model] [--sequences 12]
(without --model the tracker shipped in the package is used; the script says which).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

import siamkit
from siamkit.applications.tracking.evaluate import run_sequence
from siamkit.applications.tracking.metrics import TrackingScores, score_tracking
from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.onnx import OnnxSiamFC, export_tracker_onnx
from siamkit.applications.tracking.pretrained import PRETRAINED_DIR, load_pretrained_tracker
from siamkit.applications.tracking.tracker import SiamFCTracker
from siamkit.data.synthetic_tracking import synthetic_sequences


class OpenCVTracker:
    """Adapter: RGB frames in, ``(x, y, w, h)`` out; keeps the last box when OpenCV reports a loss."""

    def __init__(self, factory: Callable[[], object]) -> None:
        self.factory = factory

    def init(self, frame: np.ndarray, box: Sequence[float]) -> None:
        self.t = self.factory()
        self.box = np.asarray(box, dtype=np.float64)
        x, y, w, h = (round(float(v)) for v in box)
        self.t.init(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), (x, y, w, h))  # type: ignore[attr-defined]

    def update(self, frame: np.ndarray) -> np.ndarray:
        ok, box = self.t.update(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))  # type: ignore[attr-defined]
        if ok:
            self.box = np.asarray(box, dtype=np.float64)
        return self.box


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--model", help="a saved siamfc model (default: the one shipped in the package)"
    )
    ap.add_argument("--sequences", type=int, default=12)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--alexnet-frames", type=int, default=30)
    ap.add_argument("--json", help="write the table here as JSON")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    net = siamkit.load_model(args.model) if args.model else load_pretrained_tracker()
    assert isinstance(net, SiamFCNet)
    print(f"siamkit model: {args.model or PRETRAINED_DIR} (backbone {net.backbone_name})")
    onnx_dir = tempfile.mkdtemp(prefix="siamfc-onnx-")
    export_tracker_onnx(net, onnx_dir)
    onnx_net = OnnxSiamFC(onnx_dir, threads=args.threads)
    trackers: dict[str, Callable[[], object]] = {
        f"siamkit SiamFC-{net.backbone_name}": lambda: SiamFCTracker(net),
        f"siamkit SiamFC-{net.backbone_name} (ONNX Runtime)": lambda: SiamFCTracker(onnx_net),
        "OpenCV MIL": lambda: OpenCVTracker(cv2.TrackerMIL.create),
        "OpenCV KCF": lambda: OpenCVTracker(cv2.TrackerKCF.create),
        "OpenCV CSRT": lambda: OpenCVTracker(cv2.TrackerCSRT.create),
    }
    pred: dict[str, list[np.ndarray]] = {k: [] for k in trackers}
    secs = dict.fromkeys(trackers, 0.0)
    truth = []
    for spec in synthetic_sequences("test", args.sequences, args.frames, (640, 480), args.seed):
        seq = spec.to_sequence()
        truth.append(seq.boxes[1:])
        line = []
        for name, make in trackers.items():
            run = run_sequence(make(), seq)  # type: ignore[arg-type]
            pred[name].append(run.boxes[1:])
            secs[name] += run.seconds
            line.append(
                f"{name.removeprefix('siamkit ').removeprefix('OpenCV ')} {run.scores.success_auc:.2f}"
            )
        print(f"{seq.name}: " + ", ".join(line), flush=True)
    gt = np.concatenate(truth)
    rows: dict[str, TrackingScores] = {
        k: score_tracking(np.concatenate(v), gt, secs[k]) for k, v in pred.items()
    }
    if args.alexnet_frames:
        rows["siamkit SiamFC-alexnet (speed only, untrained)"] = alexnet_speed(args)
    print(
        f"\nsynthetic test split: {args.sequences} sequences x {args.frames} frames, 640x480, threads={args.threads}"
    )
    print(f"{'tracker':48s} {'success AUC':>11s} {'P@20px':>7s} {'lost':>6s} {'fps':>7s}")
    for name, s in rows.items():
        print(
            f"{name:48s} {s.success_auc:11.3f} {s.precision_20:7.3f} {s.frames_lost:6d} {s.fps:7.1f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({k: v.as_dict() for k, v in rows.items()}, indent=2))


def alexnet_speed(args: argparse.Namespace) -> TrackingScores:
    """fps of the AlexNet-like backbone on the first test sequence's frames (accuracy not meaningful)."""
    spec = synthetic_sequences("test", 1, args.alexnet_frames, (640, 480), args.seed)[0]
    run = run_sequence(SiamFCTracker(SiamFCNet("alexnet")), spec.to_sequence())
    return TrackingScores(
        float("nan"),
        float("nan"),
        -1,
        run.scores.n_frames,
        run.scores.fps,
        run.scores.success,
        run.scores.precision,
    )


if __name__ == "__main__":
    main()
