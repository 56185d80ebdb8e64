"""`siamkit track` and `siamkit evaluate-tracking`: outputs, atomic writes and one-sentence errors."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.applications.tracking.model import SiamFCNet, save_tracker
from siamkit.cli.main import cli
from siamkit.data.synthetic_tracking import linear_square_sequence
from siamkit.data.tracking_sequences import write_sequence
from siamkit.models.preprocess import Preprocess
from siamkit.models.siamese import SiameseNetwork

N = 8


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("track")
    torch.manual_seed(0)
    seq = linear_square_sequence(n_frames=N, frame_size=(160, 120), size=24).to_sequence()
    net = SiamFCNet("tiny").train()
    with torch.no_grad():  # batch-norm statistics from the frames, so responses are not flat
        net.embed(torch.from_numpy(np.stack(seq.frames).transpose(0, 3, 1, 2) / 255.0).float())
        net.gain.fill_(0.05)
    save_tracker(net.eval(), root / "tracker")
    video = root / "clip.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (160, 120))
    for f in seq.frames:
        w.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))  # type: ignore[arg-type]
    w.release()
    write_sequence(seq, root / "seqs" / "square", layout="otb")
    enc = siamkit.encoders.create_encoder("mlp", in_features=4, hidden=[8])
    siamkit.save_model(
        SiameseNetwork(enc, 3, preprocess=Preprocess(input_shape=(4,))), root / "image_model"
    )
    return {
        "root": root,
        "video": video,
        "tracker": root / "tracker",
        "seqs": root / "seqs",
        "image": root / "image_model",
    }


def _track(files: dict[str, Path], *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(
        cli, ["track", str(files["video"]), "--model", str(files["tracker"]), *args]
    )
    return res.exit_code, res.output


def test_track_writes_video_and_boxes(files: dict[str, Path], tmp_path: Path) -> None:
    code, out = _track(
        files,
        "--box",
        "28,24,24,24",
        "--out",
        str(tmp_path / "t.mp4"),
        "--boxes",
        str(tmp_path / "b.csv"),
        "--show-response",
    )
    assert code == 0, out
    rows = list(csv.DictReader((tmp_path / "b.csv").open()))
    assert len(rows) == N and [float(rows[0][k]) for k in "xywh"] == [28, 24, 24, 24]
    cap = cv2.VideoCapture(str(tmp_path / "t.mp4"))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == N
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "t.mp4"]  # no temp files left


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ("28,24,0,24", "zero area"),
        ("500,24,10,10", "outside the 160x120 frame"),
        ("28,24,x,24", "is not four numbers x,y,w,h"),
    ],
)
def test_bad_box_writes_nothing(
    files: dict[str, Path], tmp_path: Path, box: str, message: str
) -> None:
    code, out = _track(files, "--box", box, "--out", str(tmp_path / "t.mp4"))
    assert code != 0 and message in out
    assert list(tmp_path.iterdir()) == []  # no half-written video


def test_unopenable_video_and_image_model(files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    res = CliRunner().invoke(
        cli, ["track", str(bad), "--box", "1,1,5,5", "--model", str(files["tracker"])]
    )
    assert res.exit_code != 0 and "cannot open video" in res.output and "broken.mp4" in res.output
    res = CliRunner().invoke(
        cli, ["track", str(files["video"]), "--box", "1,1,5,5", "--model", str(files["image"])]
    )
    assert res.exit_code != 0 and "is a 'siamese' model, not a tracker" in res.output


def test_evaluate_tracking_report(files: dict[str, Path], tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "evaluate-tracking",
            str(files["tracker"]),
            "--data",
            str(files["seqs"]),
            "--report",
            str(tmp_path / "r.html"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "success AUC" in res.output
    page = (tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64") == 2 and page.count("data:image/jpeg;base64") == 3
    # ground truth with a line missing: one sentence
    gt = files["seqs"] / "square" / "groundtruth_rect.txt"
    lines = gt.read_text().splitlines(keepends=True)
    broken = tmp_path / "broken" / "square"
    broken.mkdir(parents=True)
    (broken / "img").symlink_to(files["seqs"] / "square" / "img")
    (broken / "groundtruth_rect.txt").write_text("".join(lines[:-1]))
    res = CliRunner().invoke(
        cli, ["evaluate-tracking", str(files["tracker"]), "--data", str(broken)]
    )
    assert (
        res.exit_code != 0
        and f"has {N - 1} ground-truth lines but" in res.output
        and f"{N} frames" in res.output
    )


def test_box_csv_is_the_tracker_output(files: dict[str, Path], tmp_path: Path) -> None:
    from siamkit.applications.tracking.tracker import SiamFCTracker
    from siamkit.data.video import read_video

    code, out = _track(files, "--box", "28,24,24,24", "--boxes", str(tmp_path / "b.csv"))
    assert code == 0, out
    got = np.array(
        [[float(r[k]) for k in "xywh"] for r in csv.DictReader((tmp_path / "b.csv").open())]
    )
    frames = read_video(files["video"])
    want = [
        r.box
        for r in SiamFCTracker(siamkit.load_model(files["tracker"])).track(frames, (28, 24, 24, 24))
    ]  # type: ignore[arg-type]
    np.testing.assert_allclose(got, np.stack(want), atol=0.01)


def test_export_tracker_then_track_with_onnx(files: dict[str, Path], tmp_path: Path) -> None:
    """The built-in tracker (no MODEL / --model), exported and run on ONNX Runtime, gives the same boxes."""
    res = CliRunner().invoke(cli, ["export-tracker", "--out", str(tmp_path / "onnx")])
    assert res.exit_code == 0, res.output
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    box = ["--box", "28,24,24,24"]
    res = CliRunner().invoke(cli, ["track", str(files["video"]), *box, "--boxes", str(a)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        cli,
        ["track", str(files["video"]), "--onnx", str(tmp_path / "onnx"), *box, "--boxes", str(b)],
    )
    assert res.exit_code == 0, res.output
    rows_a = np.array([[float(r[k]) for k in "xywh"] for r in csv.DictReader(a.open())])
    rows_b = np.array([[float(r[k]) for k in "xywh"] for r in csv.DictReader(b.open())])
    assert len(rows_b) == N
    np.testing.assert_allclose(rows_b, rows_a, atol=1.0)
