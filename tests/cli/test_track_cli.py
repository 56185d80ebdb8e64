"""`siamkit track` and `siamkit evaluate-tracking`: outputs, atomic writes and one-sentence errors."""

from __future__ import annotations

import csv
import sys
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
        # names the frame's size and what a box must be, in --box's format
        (
            "500,24,10,10",
            "lies outside the 160x120 frame: give x,y,w,h in pixels of a box inside it "
            "(x+w at most 160 and y+h at most 120, x and y from 0)",
        ),
        ("28,24,x,24", "is not four finite numbers x,y,w,h"),
        ("28,24,24,nan", "is not four finite numbers x,y,w,h"),
        ("28,24,inf,24", "is not four finite numbers x,y,w,h"),
        ("28,24,-5,24", "negative width or height"),
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


def test_a_photo_given_as_the_video_is_named_as_one(files: dict[str, Path], tmp_path: Path) -> None:
    """A PNG opens in OpenCV and reads nothing: 'photo.png has no frames' said neither what it
    is nor what to give."""
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.zeros((120, 160, 3), np.uint8))
    out, boxes = tmp_path / "o.mp4", tmp_path / "b.csv"
    res = CliRunner().invoke(
        cli,
        ["track", str(photo), "--box", "1,1,5,5", "--out", str(out), "--boxes", str(boxes)],
    )
    assert res.exit_code == 1 and res.output.strip() == (
        f"Error: {photo} has no video frames to read (a photo, or an empty video); give a video "
        "file (.mp4, .avi, .mkv, .mov, ...) to track through"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


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
    # an export into the same folder again is refused without --force, and leaves it as it was
    before = {p.name: p.read_bytes() for p in (tmp_path / "onnx").iterdir()}
    assert sorted(before) == ["backbone.onnx", "tracker.json"]
    (tmp_path / "onnx" / "tracker.json").write_text("{}")
    res = CliRunner().invoke(cli, ["export-tracker", "--out", str(tmp_path / "onnx")])
    assert res.exit_code != 0 and "already exist; pass --force to replace" in res.output
    assert (tmp_path / "onnx" / "tracker.json").read_text() == "{}"
    res = CliRunner().invoke(cli, ["export-tracker", "--out", str(tmp_path / "onnx"), "--force"])
    assert res.exit_code == 0, res.output
    assert {p.name: p.read_bytes() for p in (tmp_path / "onnx").iterdir()} == before
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
    # a segment: the same frames as the PyTorch backbone, numbered from the start frame
    segment = ["--start-frame", "2", "--frames", "5", "--box", "60,40,24,24"]
    res = CliRunner().invoke(cli, ["track", str(files["video"]), *segment, "--boxes", str(a)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "o.avi"
    onnx = ["--onnx", str(tmp_path / "onnx"), "--out", str(out), "--show-response"]
    res = CliRunner().invoke(
        cli, ["track", str(files["video"]), *segment, *onnx, "--boxes", str(b)]
    )
    assert res.exit_code == 0, res.output
    (frames_a, rows_a), (frames_b, rows_b) = _csv(a), _csv(b)
    assert frames_a == frames_b == [2, 3, 4, 5, 6] and _count_frames(out) == 5
    assert rows_b[0].tolist() == [60, 40, 24, 24]
    np.testing.assert_allclose(rows_b, rows_a, atol=1.0)


def test_track_onnx_without_onnxruntime_says_how_to_install_it(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It said only "Error: No module named 'onnxruntime'"."""
    res = CliRunner().invoke(cli, ["export-tracker", "--out", str(tmp_path / "onnx")])
    assert res.exit_code == 0, res.output
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as without the onnx extra
    boxes = tmp_path / "b.csv"
    args = ["--onnx", str(tmp_path / "onnx"), "--box", "28,24,24,24", "--boxes", str(boxes)]
    res = CliRunner().invoke(cli, ["track", str(files["video"]), *args])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert res.output == (
        "Error: ONNX Runtime is not installed; pip install 'siamkit[onnx]' (on a device, "
        "`pip install onnxruntime numpy` is enough)\n"
    )
    assert not boxes.exists()


def test_outputs_that_would_destroy_an_input_are_refused(
    files: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    video = tmp_path / "in.avi"
    shutil.copy(files["video"], video)
    before = video.read_bytes()
    box = ["--box", "28,24,24,24", "--model", str(files["tracker"])]
    for option in ("--out", "--boxes"):
        res = CliRunner().invoke(cli, ["track", str(video), *box, option, str(video)])
        assert res.exit_code == 1, res.output
        assert f"Error: {option} {video} is the input video, which it would overwrite" in res.output
        # the same file by another name
        res = CliRunner().invoke(
            cli, ["track", str(video), *box, option, str(tmp_path / "." / "in.avi")]
        )
        assert res.exit_code == 1 and "is the input video" in res.output
    assert video.read_bytes() == before
    same = tmp_path / "both.avi"
    res = CliRunner().invoke(
        cli, ["track", str(video), *box, "--out", str(same), "--boxes", str(same)]
    )
    assert res.exit_code == 1 and "--out and --boxes are the same file" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avi"]


def test_boxes_never_overwrite_a_file_that_is_not_a_boxes_csv(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """`--boxes staff.db` replaced a face gallery with 9 lines of CSV, silently; an earlier
    run's boxes CSV (or an empty file) is still replaced."""
    box = ["--box", "28,24,24,24", "--frames", "2"]
    gallery = tmp_path / "staff.db"
    gallery.write_bytes(b"SQLite format 3\x00" + bytes(200))
    out = tmp_path / "o.avi"
    res = CliRunner().invoke(
        cli, ["track", str(files["video"]), *box, "--boxes", str(gallery), "--out", str(out)]
    )
    assert res.exit_code == 1 and res.output.strip() == (
        f"Error: --boxes {gallery} exists and is not a boxes CSV (its first line is not "
        "frame,x,y,w,h,score), so writing it would destroy it; give a new file name, or remove "
        "that file first"
    )
    assert gallery.read_bytes() == b"SQLite format 3\x00" + bytes(200)
    assert not out.exists()
    boxes = tmp_path / "b.csv"
    for before in ("", "frame,x,y,w,h,score\n0,1,1,1,1,1.0\n"):
        boxes.write_text(before)
        code, out = _track(files, *box, "--boxes", str(boxes))
        assert code == 0, out
        assert len(_csv(boxes)[0]) == 2


@pytest.mark.parametrize("name", ["o.gif", "o"])
def test_unsupported_out_extension_is_refused_before_tracking(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    import siamkit.applications.tracking.video as video_mod

    def no_frames(path: object) -> object:
        raise AssertionError("a frame was read before the output name was checked")

    monkeypatch.setattr(video_mod, "iter_video", no_frames)
    code, out = _track(files, "--box", "28,24,24,24", "--out", str(tmp_path / name))
    assert code == 1
    assert f"cannot write the video {tmp_path / name}: give --out a file name ending in " in out
    assert ".mp4, .avi, .mkv or .mov" in out and ".tmp-" not in out
    assert list(tmp_path.iterdir()) == []
    help_text = CliRunner().invoke(cli, ["track", "--help"]).output
    assert ".mp4, .avi, .mkv or .mov" in " ".join(help_text.split())


def test_systemexit_in_the_frame_loop_removes_the_temporary_outputs(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGTERM handler raises SystemExit: the partial video and CSV must not stay behind."""
    import siamkit
    from siamkit.applications.tracking.tracker import SiamFCTracker
    from siamkit.applications.tracking.video import track_video

    (tmp_path / "t.mp4").write_bytes(b"an earlier result")
    calls = 0

    def update(self: SiamFCTracker, frame: np.ndarray) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise SystemExit(143)
        return original(self, frame)

    original = SiamFCTracker.update
    monkeypatch.setattr(SiamFCTracker, "update", update)
    tracker = SiamFCTracker(siamkit.load_model(files["tracker"]))
    with pytest.raises(SystemExit):
        track_video(
            tracker, files["video"], (28, 24, 24, 24), tmp_path / "t.mp4", tmp_path / "b.csv"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.mp4"]
    assert (tmp_path / "t.mp4").read_bytes() == b"an earlier result"


def test_image_model_and_missing_export_name_the_command(
    files: dict[str, Path], tmp_path: Path
) -> None:
    for command in ("evaluate-tracking", "export-tracker"):
        extra = ["--synthetic", "test"] if command == "evaluate-tracking" else ["--out", "x"]
        res = CliRunner().invoke(cli, [command, str(files["image"]), *extra])
        assert res.exit_code == 1
        assert f"{command} needs a model trained with 'task: siamfc'" in res.output
        assert "leave out MODEL to use the built-in tracker" in res.output
        assert "--model" not in res.output
        usage = CliRunner().invoke(cli, [command, "--help"]).output
        assert f"{command} [OPTIONS] [MODEL]" in usage
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(
        cli,
        ["track", str(files["video"]), "--box", "28,24,24,24", "--onnx", str(tmp_path / "empty")],
    )
    assert res.exit_code == 1
    assert f"siamkit export-tracker MODEL --out {tmp_path / 'empty'}" in res.output
    assert "export_tracker_onnx" not in res.output


def test_threads_and_show_response_are_checked(files: dict[str, Path], tmp_path: Path) -> None:
    for n in ("0", "-2"):
        code, out = _track(files, "--box", "28,24,24,24", "--threads", n)
        assert code == 2 and "--threads" in out
    res = CliRunner().invoke(cli, ["evaluate-tracking", "--synthetic", "test", "--threads", "0"])
    assert res.exit_code == 2 and "--threads" in res.output
    code, out = _track(files, "--box", "28,24,24,24", "--show-response")
    assert code == 2 and "--show-response draws on the annotated video, so give --out" in out


def test_a_short_video_is_reported(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A truncated file: the header says N frames, fewer can be decoded."""
    import siamkit.applications.tracking.video as video_mod

    real = video_mod.iter_video

    def first_three(path: object, *args: object) -> object:
        for i, frame in enumerate(real(path, *args)):  # type: ignore[arg-type]
            if i == 3:
                return
            yield frame

    monkeypatch.setattr(video_mod, "iter_video", first_three)
    code, out = _track(files, "--box", "28,24,24,24", "--boxes", str(tmp_path / "b.csv"))
    assert code == 0, out
    assert f"warning: only 3 of the {N} frames of {files['video']} could be read" in out
    assert len(list(csv.DictReader((tmp_path / "b.csv").open()))) == 3
    code, out = _track(files, "--box", "28,24,24,24", "--start-frame", "2")
    assert code == 0 and f"only 3 of the {N - 2} frames from frame 2 of {files['video']}" in out


def test_track_progress_in_a_log_has_no_carriage_returns(files: dict[str, Path]) -> None:
    code, out = _track(files, "--box", "28,24,24,24")
    assert code == 0 and "\r" not in out and "fps" not in out.split("tracked")[0]


def _seq(folder: Path, first_row: str) -> None:
    from PIL import Image

    (folder / "img").mkdir(parents=True)
    for i in range(1, 4):
        Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(folder / "img" / f"{i:04d}.jpg")
    (folder / "groundtruth_rect.txt").write_text(f"{first_row}\n10,10,20,20\nNaN,NaN,NaN,NaN\n")


def test_evaluate_tracking_json_has_int_counts_and_sequence_rows(
    files: dict[str, Path], tmp_path: Path
) -> None:
    import json

    res = CliRunner().invoke(
        cli, ["evaluate-tracking", str(files["tracker"]), "--data", str(files["seqs"]), "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["n_frames"] == N - 1 and isinstance(doc["frames_lost"], int)
    (row,) = doc["sequences"]
    assert row["name"] == "square" and row["frames"] == N and row["scored_frames"] == N - 1
    assert set(row) >= {"success_auc", "precision_20", "frames_lost"}
    # frames without ground truth are not scored
    _seq(tmp_path / "d" / "a", "10,10,20,20")
    res = CliRunner().invoke(cli, ["evaluate-tracking", "--data", str(tmp_path / "d"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["n_frames"] == 1 and doc["sequences"][0]["frames"] == 3


def test_evaluate_tracking_refuses_a_missing_first_box_up_front(tmp_path: Path) -> None:
    _seq(tmp_path / "d" / "a", "10,10,20,20")
    _seq(tmp_path / "d" / "b", "NaN,NaN,NaN,NaN")
    res = CliRunner().invoke(cli, ["evaluate-tracking", "--data", str(tmp_path / "d")])
    assert res.exit_code == 1
    gt = tmp_path / "d" / "b" / "groundtruth_rect.txt"
    assert f"Error: {gt} line 1 has no box for the first frame (nan, nan, nan, nan)" in res.output
    assert "success AUC" not in res.output  # sequence a was not evaluated first
    assert "np.float64" not in res.output


def test_evaluate_tracking_names_a_corrupt_frame(tmp_path: Path) -> None:
    _seq(tmp_path / "d" / "a", "10,10,20,20")
    (tmp_path / "d" / "a" / "img" / "0002.jpg").write_bytes(b"garbage")
    res = CliRunner().invoke(cli, ["evaluate-tracking", "--data", str(tmp_path / "d")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    frame = tmp_path / "d" / "a" / "img" / "0002.jpg"
    assert f"Error: cannot read the frame {frame}: it is not a valid image" in res.output


def test_evaluate_tracking_refuses_a_cielab_frame_by_name(tmp_path: Path) -> None:
    """A CIELAB frame (a LAB TIFF) was converted to RGB and tracked, where the CLI's and the
    service's images refuse that colour space by name: tracking refuses it in their sentence."""
    from PIL import Image

    _seq(tmp_path / "d" / "a", "10,10,20,20")
    frame = tmp_path / "d" / "a" / "img" / "0002.jpg"  # Pillow reads a file by its content
    Image.new("RGB", (80, 60), (200, 30, 30)).convert("LAB").save(frame, "TIFF")
    res = CliRunner().invoke(cli, ["evaluate-tracking", "--data", str(tmp_path / "d")])
    assert res.exit_code == 1 and res.output.strip() == (
        f"Error: the frame {frame} is a CIELAB (LAB) image, which siamkit cannot convert; save "
        "it as an RGB or greyscale PNG or JPEG."
    )


def _csv(path: Path) -> tuple[list[int], np.ndarray]:
    rows = list(csv.DictReader(path.open()))
    return [int(r["frame"]) for r in rows], np.array([[float(r[k]) for k in "xywh"] for r in rows])


def _count_frames(path: Path) -> int:
    cap, frames = cv2.VideoCapture(str(path)), 0
    while cap.read()[0]:
        frames += 1
    return frames


def test_start_frame_and_frames_track_a_segment(files: dict[str, Path], tmp_path: Path) -> None:
    """--start-frame 3 --frames 4: frames 3..6 of the video, numbered so, box as given at 3."""
    import json

    from siamkit.applications.tracking.tracker import SiamFCTracker
    from siamkit.data.video import read_video

    out, b = tmp_path / "t.avi", tmp_path / "b.csv"
    segment = ["--start-frame", "3", "--frames", "4", "--box", "60,40,24,24"]
    code, text = _track(files, *segment, "--out", str(out), "--boxes", str(b), "--show-response")
    assert code == 0, text
    numbers, got = _csv(b)
    assert numbers == [3, 4, 5, 6]
    assert got[0].tolist() == [60, 40, 24, 24]
    assert _count_frames(out) == 4
    frames = read_video(files["video"])[3:7]
    net = siamkit.load_model(files["tracker"])
    want = [r.box for r in SiamFCTracker(net).track(frames, (60, 40, 24, 24))]  # type: ignore[arg-type]
    np.testing.assert_allclose(got, np.stack(want), atol=0.01)
    code, text = _track(files, *segment, "--json")
    assert code == 0, text
    doc = json.loads(text)
    assert (doc["start_frame"], doc["last_frame"], doc["frames"]) == (3, 6, 4)
    assert doc["frames_expected"] == 4
    # --frames past the end: to the end of the video; the count is what was tracked
    code, text = _track(
        files, "--start-frame", str(N - 2), "--frames", "50", "--box", "60,40,24,24"
    )
    assert code == 0 and f"tracked 2 frames ({N - 2} to {N - 1})" in text
    assert "warning" not in text


def test_one_frame_tracked_claims_no_fps(files: dict[str, Path]) -> None:
    """Only the start frame (the video's last, or --frames 1) said 'tracked 1 frames (7 to 7) at
    0.0 fps': nothing was tracked, the box is --box as given."""
    import json

    code, text = _track(files, "--start-frame", str(N - 1), "--frames", "5", "--box", "60,40,24,24")
    assert code == 0 and text.strip() == (
        f"tracked 1 frame ({N - 1}): the start frame only (it is the last frame of "
        f"{files['video']}), whose box is --box as given; no frame followed it to track, so no fps"
    )
    code, text = _track(files, "--frames", "1", "--box", "60,40,24,24", "--json")
    assert code == 0 and json.loads(text)["fps"] is None
    code, text = _track(files, "--frames", "1", "--box", "60,40,24,24")
    assert code == 0 and "(--frames 1)" in text and "fps (tracking only)" not in text


def test_a_one_frame_video_is_tracked_as_its_start_frame(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """A one-frame video was refused as 'has no video frames to read (a photo, or an empty
    video)': it is its start frame, as the last frame of a longer video is."""
    video = tmp_path / "one.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (160, 120))
    w.write(np.zeros((120, 160, 3), np.uint8))
    w.release()
    boxes = tmp_path / "b.csv"
    args = ["--model", str(files["tracker"]), "--boxes", str(boxes)]
    res = CliRunner().invoke(cli, ["track", str(video), "--box", "60,40,24,24", *args])
    assert res.exit_code == 0 and res.output.splitlines()[0] == (
        f"tracked 1 frame (0): the start frame only (it is the last frame of {video}), whose box "
        "is --box as given; no frame followed it to track, so no fps"
    )
    assert _csv(boxes)[0] == [0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start-frame", "-1"], "Invalid value for '--start-frame': -1 is not in the range x>=0"),
        (
            ["--start-frame", str(N)],
            f"which has {N} frames by its header (0 to {N - 1}); give a start frame below {N}",
        ),
        (["--start-frame", "99"], "--start-frame 99 is past the end of"),
        (["--frames", "0"], "Invalid value for '--frames': 0 is not in the range x>=1"),
        (["--start-frame", "5", "--box", "500,24,10,10"], "lies outside the 160x120 frame"),
    ],
)
def test_bad_start_or_frames_writes_nothing(
    files: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    box = [] if "--box" in args else ["--box", "28,24,24,24"]
    code, out = _track(
        files, *box, *args, "--out", str(tmp_path / "t.mp4"), "--boxes", str(tmp_path / "b.csv")
    )
    assert code != 0 and message in out, out
    assert "Traceback" not in out
    assert list(tmp_path.iterdir()) == []


def test_start_past_the_end_of_a_video_without_a_frame_count(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header with no frame count: the skip finds the end, before an output file is made."""
    import dataclasses

    import siamkit.applications.tracking.video as video_mod

    real = video_mod.open_video

    def no_count(path: object) -> object:
        cap, info = real(path)  # type: ignore[arg-type]
        return cap, dataclasses.replace(info, n_frames=0)

    def no_outputs(*args: object, **kwargs: object) -> object:
        raise AssertionError("an output file was made before the start frame was reached")

    monkeypatch.setattr(video_mod, "open_video", no_count)
    monkeypatch.setattr(video_mod, "atomic_path", no_outputs)
    for start in (N, N + 5):
        code, out = _track(
            files,
            "--box",
            "28,24,24,24",
            "--start-frame",
            str(start),
            "--out",
            str(tmp_path / "t.mp4"),
        )
        assert code == 1, out
        assert f"has only {N} frames (0 to {N - 1}), so there is no frame {start}" in out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("ending", "codec"), [(".avi", "MJPG"), (".mp4", "mp4v")])
def test_iter_video_start_is_the_frame_read_in_order(
    tmp_path: Path, ending: str, codec: str
) -> None:
    """Frame n from iter_video(start=n) is the n-th frame read one by one (mp4v has keyframes
    only every so often, so a seek to a keyframe would show here)."""
    from siamkit.data.video import iter_video

    path = tmp_path / f"v{ending}"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), 10, (64, 48))
    rng = np.random.default_rng(0)
    for i in range(30):
        frame = np.full((48, 64, 3), 8 * i, np.uint8)
        frame[rng.integers(0, 48, 40), rng.integers(0, 64, 40)] = 255
        w.write(frame)
    w.release()
    in_order = list(iter_video(path))
    assert len(in_order) == 30
    for n in (1, 7, 13, 29):
        frames = iter_video(path, n)
        np.testing.assert_array_equal(next(frames), in_order[n])
        assert sum(1 for _ in frames) == 29 - n


def test_a_report_path_below_a_file_is_refused_before_tracking(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--report notes.txt/r.html failed only after every sequence was tracked."""
    import siamkit.applications.tracking.evaluate as tracking_evaluate

    def tracked(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sequences were tracked before the report path was checked")

    monkeypatch.setattr(tracking_evaluate, "evaluate_tracker", tracked)
    (tmp_path / "notes.txt").write_text("keep me")
    report = tmp_path / "notes.txt" / "r.html"
    args = ["evaluate-tracking", str(files["tracker"]), "--data", str(files["seqs"])]
    res = CliRunner().invoke(cli, [*args, "--report", str(report)])
    assert res.exit_code == 1 and f"Error: --report {report} cannot be written" in res.output
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_evaluate_tracking_refuses_fewer_than_one_synthetic_sequence() -> None:
    for n in ("0", "-2"):
        res = CliRunner().invoke(
            cli, ["evaluate-tracking", "--synthetic", "test", "--n-sequences", n]
        )
        assert res.exit_code == 2 and "--n-sequences" in res.output, res.output


def test_evaluate_tracking_refuses_n_sequences_with_data(tmp_path: Path) -> None:
    """--n-sequences with --data was silently ignored: every sequence of the folder was scored."""
    _seq(tmp_path / "d" / "a", "10,10,20,20")
    res = CliRunner().invoke(
        cli, ["evaluate-tracking", "--data", str(tmp_path / "d"), "--n-sequences", "1"]
    )
    assert res.exit_code == 2, res.output
    assert "Error: --n-sequences sets how many --synthetic sequences to make, and --data" in (
        res.output
    )
    assert "success AUC" not in res.output


@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_track_no_progress_shows_no_frames_bar(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    """track's frame bar followed only --json; --no-progress, as on the other commands, hides it."""
    from functools import partial

    from siamkit import progress as prog

    monkeypatch.setattr(prog, "Progress", partial(prog.Progress, delay=0.0))
    try:
        code, out = _track(files, "--box", "28,24,24,24", flag)
    finally:
        prog.set_enabled(False)  # the command turned it on for this process
    assert code == 0, out
    assert ("track: " in out and "% (" in out) is (flag == "--progress"), out
