"""Visual object tracking with a fully-convolutional Siamese network (SiamFC, Bertinetto et al. 2016).

One shared fully-convolutional backbone embeds a 127×127 exemplar around the target and a
255×255 search region; their cross-correlation is the response map whose peak is the target's
new position. See :mod:`.model` (the network), :mod:`.tracker` (the online tracking loop),
:mod:`.metrics` (OTB success / precision) and :mod:`.train` (the ``siamfc`` training task).
The names below are imported on first use (PEP 562), so importing this package loads nothing
(the ONNX runtime path, :class:`OnnxSiamFC`, stays torch-free).

Example:
    >>> from siamkit.applications.tracking import TrackerParams
    >>> TrackerParams().exemplar_size
    127
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "TOTAL_STRIDE": "backbones",
    "SiamFCBackbone": "backbones",
    "backbone_names": "backbones",
    "create_backbone": "backbones",
    "SequenceRun": "evaluate",
    "evaluate_tracker": "evaluate",
    "run_sequence": "evaluate",
    "balanced_logistic_loss": "loss",
    "BoxFault": "metrics",
    "TrackingScores": "metrics",
    "box_faults": "metrics",
    "center_error": "metrics",
    "iou": "metrics",
    "precision_at": "metrics",
    "score_tracking": "metrics",
    "success_auc": "metrics",
    "SiamFCNet": "model",
    "cross_correlation": "model",
    "save_tracker": "model",
    "OnnxSiamFC": "onnx",
    "export_tracker_onnx": "onnx",
    "PairSource": "pairs",
    "SequencePairs": "pairs",
    "SyntheticPairs": "pairs",
    "make_batch": "pairs",
    "TrackerParams": "params",
    "BUILTIN_NAME": "pretrained",
    "load_pretrained_tracker": "pretrained",
    "write_tracking_report": "report",
    "run": "task",
    "SiamFCTracker": "tracker",
    "TrackResult": "tracker",
    "TrainSettings": "train",
    "train_siamfc": "train",
    "VideoTrackSummary": "video",
    "track_video": "video",
}

if TYPE_CHECKING:
    from siamkit.applications.tracking.backbones import (
        TOTAL_STRIDE,
        SiamFCBackbone,
        backbone_names,
        create_backbone,
    )
    from siamkit.applications.tracking.evaluate import SequenceRun, evaluate_tracker, run_sequence
    from siamkit.applications.tracking.loss import balanced_logistic_loss
    from siamkit.applications.tracking.metrics import (
        BoxFault,
        TrackingScores,
        box_faults,
        center_error,
        iou,
        precision_at,
        score_tracking,
        success_auc,
    )
    from siamkit.applications.tracking.model import SiamFCNet, cross_correlation, save_tracker
    from siamkit.applications.tracking.onnx import OnnxSiamFC, export_tracker_onnx
    from siamkit.applications.tracking.pairs import (
        PairSource,
        SequencePairs,
        SyntheticPairs,
        make_batch,
    )
    from siamkit.applications.tracking.params import TrackerParams
    from siamkit.applications.tracking.pretrained import BUILTIN_NAME, load_pretrained_tracker
    from siamkit.applications.tracking.report import write_tracking_report
    from siamkit.applications.tracking.task import run
    from siamkit.applications.tracking.tracker import SiamFCTracker, TrackResult
    from siamkit.applications.tracking.train import TrainSettings, train_siamfc
    from siamkit.applications.tracking.video import VideoTrackSummary, track_video


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_WHERE)


__all__ = [
    "BUILTIN_NAME",
    "TOTAL_STRIDE",
    "BoxFault",
    "OnnxSiamFC",
    "PairSource",
    "SequencePairs",
    "SequenceRun",
    "SiamFCBackbone",
    "SiamFCNet",
    "SiamFCTracker",
    "SyntheticPairs",
    "TrackResult",
    "TrackerParams",
    "TrackingScores",
    "TrainSettings",
    "VideoTrackSummary",
    "backbone_names",
    "balanced_logistic_loss",
    "box_faults",
    "center_error",
    "create_backbone",
    "cross_correlation",
    "evaluate_tracker",
    "export_tracker_onnx",
    "iou",
    "load_pretrained_tracker",
    "make_batch",
    "precision_at",
    "run",
    "run_sequence",
    "save_tracker",
    "score_tracking",
    "success_auc",
    "track_video",
    "train_siamfc",
    "write_tracking_report",
]
