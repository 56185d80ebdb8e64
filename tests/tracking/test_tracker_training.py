"""A tiny tracker trained for a few steps follows a square; resume is exact; the train task runs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.applications.tracking.metrics import iou
from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.pairs import SequencePairs
from siamkit.applications.tracking.tracker import SiamFCTracker, check_box
from siamkit.applications.tracking.train import TrainSettings, train_siamfc
from siamkit.cli.main import cli
from siamkit.data.synthetic_tracking import linear_square_sequence

FAST = TrainSettings(steps=30, batch_size=4, lr=3e-3, final_lr=1e-3, threads=1, checkpoint_every=10)


def test_tiny_tracker_follows_a_square_in_a_straight_line() -> None:
    torch.manual_seed(0)
    synthetic = linear_square_sequence(n_frames=20, velocity=(5.0, 2.0))
    net = SiamFCNet("tiny")
    result = train_siamfc(net, SequencePairs([synthetic], max_gap=19), FAST)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    seq = synthetic.to_sequence()
    boxes = np.stack([r.box for r in SiamFCTracker(net).track(seq.frames, seq.boxes[0])])  # type: ignore[arg-type]
    overlaps = iou(boxes, seq.boxes)
    assert overlaps.min() > 0.5, overlaps.round(2)
    # it really moved with the square (95 px), rather than staying where it started
    assert np.linalg.norm(boxes[-1, :2] - boxes[0, :2]) > 50


def test_resume_continues_exactly(tmp_path: Path) -> None:
    source = SequencePairs([linear_square_sequence(n_frames=10)], max_gap=5)
    s4 = TrainSettings(steps=4, batch_size=2, threads=1, checkpoint_every=2)
    torch.manual_seed(0)
    a = SiamFCNet("tiny")
    ra = train_siamfc(a, source, s4)
    torch.manual_seed(0)
    b = SiamFCNet("tiny")
    stopped = train_siamfc(b, source, replace(s4, max_minutes=1e-9), tmp_path / "ck.pt")
    assert len(stopped.history) == 1 and stopped.stopped_early  # stopped after the first epoch
    c = SiamFCNet("tiny")
    rc = train_siamfc(c, source, s4, tmp_path / "ck.pt", resume=True)
    assert [h["loss"] for h in rc.history] == pytest.approx([h["loss"] for h in ra.history])
    for (k, va), vc in zip(a.state_dict().items(), c.state_dict().values()):
        torch.testing.assert_close(va, vc, msg=k)


@pytest.mark.parametrize(
    ("box", "match"),
    [
        ((10, 10, 0, 5), "zero area"),
        ((400, 10, 5, 5), "outside"),
        ((1, 2, 3), "four finite numbers"),
    ],
)
def test_bad_boxes(box: tuple[float, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_box(box, (240, 320, 3))


def test_train_task_writes_a_loadable_tracker(tmp_path: Path) -> None:
    cfg = tmp_path / "siamfc.yaml"
    cfg.write_text(
        "task: siamfc\nmodel: {backbone: tiny}\n"
        "data: {frame_size: [160, 120], n_frames: 20}\n"
        "train: {steps: 2, batch_size: 2, threads: 1}\n"
        "eval: {n_sequences: 1, n_frames: 5, frame_size: [160, 120]}\n"
    )
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    model = siamkit.load_model(tmp_path / "run" / "model")
    assert isinstance(model, SiamFCNet) and model.backbone_name == "tiny"
    assert (tmp_path / "run" / "metrics.json").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: siamfc\ndata: {frames: 3}\n")
    res = CliRunner().invoke(cli, ["train", str(bad), "--out", str(tmp_path / "r2")])
    assert res.exit_code != 0 and "unknown key(s) frames in section 'data'" in res.output


def test_shipped_siamfc_config_resolves() -> None:
    import yaml

    from siamkit.applications.tracking.model import TrackerParams
    from siamkit.applications.tracking.task import resolve_config

    doc = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "configs" / "siamfc.yaml").read_text()
    )
    assert doc.pop("task") == "siamfc"
    cfg = resolve_config(doc)
    assert cfg["model"]["backbone"] == "small"
    assert TrackerParams.from_dict(cfg["tracker"]).window_influence == 0.40
    assert TrainSettings(**cfg["train"]).steps == 1200
