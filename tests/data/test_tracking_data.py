"""Video reading, GOT-10k / OTB sequence folders and synthetic sequences with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from siamkit.data.synthetic_tracking import (
    SPLITS,
    VIDEO_DIR,
    linear_square_sequence,
    synthetic_sequences,
)
from siamkit.data.tracking_sequences import (
    TrackingSequence,
    read_sequence,
    read_sequences,
    write_sequence,
)
from siamkit.data.video import open_video, read_video

TREE = VIDEO_DIR / "tree.avi"


def test_read_video_matches_opencv_directly() -> None:
    frames = read_video(TREE, max_frames=3)
    cap = cv2.VideoCapture(str(TREE))
    for f in frames:
        ok, bgr = cap.read()
        assert ok
        np.testing.assert_array_equal(f, bgr[..., ::-1])
    assert frames.shape == (3, 240, 320, 3)


def test_unopenable_video_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"this is not a video")
    with pytest.raises(ValueError, match=r"clip\.mp4"):
        open_video(bad)
    with pytest.raises(FileNotFoundError, match="no video file"):
        open_video(tmp_path / "missing.mp4")


def _write_video(path: Path, n_frames: int) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (32, 24))
    for i in range(n_frames):
        w.write(np.full((24, 32, 3), 40 * (i + 1), np.uint8))
    w.release()
    return path


@pytest.mark.parametrize("ending", [".avi", ".mp4"])
def test_a_one_frame_video_reads_its_frame(tmp_path: Path, ending: str) -> None:
    """open_video read the first frame and seeked back to frame 0, after which a one-frame video
    read nothing more: it was refused as 'has no video frames to read (a photo, ...)'."""
    video = _write_video(tmp_path / f"one{ending}", 1)
    assert read_video(video).shape == (1, 24, 32, 3)
    assert len(read_video(_write_video(tmp_path / f"three{ending}", 3))) == 3


def test_a_frameless_mp4_that_opencv_cannot_open_says_it_may_hold_no_frame(tmp_path: Path) -> None:
    """An .mp4 whose writer closed before its first frame does not open in OpenCV, and was
    refused as having a container or codec no backend reads: it may just hold no frame."""
    video = tmp_path / "zero.mp4"
    cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"mp4v"), 10, (32, 24)).release()
    with pytest.raises(ValueError) as err:
        open_video(video)
    assert str(err.value) == (
        f"cannot open video {video}: OpenCV found no backend that reads this container or "
        "codec, or the file is damaged or holds no frame (a recording stopped before its "
        "first); check that a video player plays it, or convert it: ffmpeg -i VIDEO out.mp4"
    )


def test_an_empty_or_frameless_video_says_so(tmp_path: Path) -> None:
    """A 0-byte file was 'OpenCV found no backend that reads this container or codec', and a
    video whose writer closed before its first frame 'no frame could be read with codec
    'MJPG'': both blamed the codec."""
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError) as err:
        open_video(empty)
    assert str(err.value) == f"the video file {empty} is empty (0 bytes); give a video with frames"
    frameless = _write_video(tmp_path / "zero.avi", 0)
    with pytest.raises(ValueError) as err:
        open_video(frameless)
    assert str(err.value) == (
        f"the video {frameless} has no frames (its header counts 0); give a video with frames"
    )


def _tiny_sequence(n: int = 3) -> TrackingSequence:
    yy, xx = np.mgrid[0:24, 0:32]
    frames = [
        np.dstack([xx * 6, yy * 8, np.full_like(xx, 60 * i)]).astype(np.uint8) for i in range(n)
    ]
    boxes = np.array([[1.5, 2.25, 10, 8]] * n) + np.arange(n)[:, None]
    return TrackingSequence("tiny", frames, boxes)


@pytest.mark.parametrize("layout", ["got10k", "otb"])
def test_sequence_round_trip(tmp_path: Path, layout: str) -> None:
    seq = _tiny_sequence()
    write_sequence(seq, tmp_path / "root" / "tiny", layout=layout)
    back = read_sequence(tmp_path / "root" / "tiny")
    np.testing.assert_allclose(back.boxes, seq.boxes)
    assert len(back) == 3 and back.frame(2).shape == (24, 32, 3)
    assert np.abs(back.frame(1).astype(int) - seq.frame(1)).mean() < 4  # JPEG
    assert [s.name for s in read_sequences(tmp_path / "root")] == ["tiny"]
    gt = "groundtruth_rect.txt" if layout == "otb" else "groundtruth.txt"
    assert (tmp_path / "root" / "tiny" / gt).is_file()


def test_ground_truth_line_count_mismatch(tmp_path: Path) -> None:
    write_sequence(_tiny_sequence(), tmp_path / "s")
    gt = tmp_path / "s" / "groundtruth.txt"
    gt.write_text("".join(gt.read_text().splitlines(keepends=True)[:2]))
    with pytest.raises(ValueError, match=r"2 ground-truth lines but .* 3 frames"):
        read_sequence(tmp_path / "s")


def test_ground_truth_unparsable_line(tmp_path: Path) -> None:
    write_sequence(_tiny_sequence(), tmp_path / "s", layout="otb")
    (tmp_path / "s" / "groundtruth_rect.txt").write_text("1,2,3,4\n1 2 3 4\n1,2,x,4\n")
    with pytest.raises(ValueError, match="line 3 is not four numbers"):
        read_sequence(tmp_path / "s")


def test_not_a_sequence_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a tracking sequence"):
        read_sequence(tmp_path)


def test_a_sequence_without_frames_says_where_they_go(tmp_path: Path) -> None:
    """'seq has no frames' said neither where the frames go nor which files count as frames."""
    got = tmp_path / "got"
    got.mkdir()
    (got / "groundtruth.txt").write_text("1,1,2,2\n")
    (got / "notes.txt").write_text("frames to come\n")
    with pytest.raises(ValueError) as err:
        read_sequence(got)
    assert str(err.value) == (
        f"{got} has no frames: put the sequence's images (.jpg, .jpeg, .png, .bmp) beside "
        f"groundtruth.txt in {got}"
    )
    otb = tmp_path / "otb"
    (otb / "img").mkdir(parents=True)
    (otb / "groundtruth_rect.txt").write_text("1,1,2,2\n")
    with pytest.raises(ValueError) as err:
        read_sequence(otb)
    assert str(err.value) == (
        f"{otb} has no frames: put the sequence's images (.jpg, .jpeg, .png, .bmp) in {otb / 'img'}"
    )


def test_linear_square_box_is_the_analytic_box() -> None:
    seq = linear_square_sequence(n_frames=20, size=40, velocity=(5.0, 2.0))
    c0 = np.array([320 * 0.25, 240 * 0.3])
    for t in (0, 7, 19):
        frame, box = seq.render(t)
        centre = c0 + np.array([5.0, 2.0]) * t
        np.testing.assert_allclose(box[:2] + box[2:] / 2, centre, atol=1.0)
        np.testing.assert_allclose(box[2:], [40, 40], atol=1.0)
        x, y, w, h = box.astype(int)
        bg = seq.background[t].astype(int)
        # the square replaced the video inside the box, and nowhere far outside it
        assert (
            np.abs(
                frame[y + 2 : y + h - 2, x + 2 : x + w - 2]
                - bg[y + 2 : y + h - 2, x + 2 : x + w - 2]
            ).mean()
            > 10
        )
        assert np.array_equal(frame[:, x + w + 5 :], bg[:, x + w + 5 :].astype(np.uint8))


def test_synthetic_sequences_are_seeded_and_held_out() -> None:
    a = synthetic_sequences("val", n=2, n_frames=6, frame_size=(160, 120), seed=3)
    b = synthetic_sequences("val", n=2, n_frames=6, frame_size=(160, 120), seed=3)
    fa, ba = a[1].render(5)
    fb, bb = b[1].render(5)
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(ba, bb)
    assert ba[2] > 0 and ba[3] > 0 and ba[0] >= 0 and ba[0] + ba[2] <= 160
    assert {s.video for s in SPLITS.values()} == {"vtest.avi", "tree.avi", "Megamind.avi"}
    assert not set(SPLITS["train"].fmnist_classes) & set(SPLITS["test"].fmnist_classes)
    seq = a[0].to_sequence()
    assert len(seq) == 6 and seq.boxes.shape == (6, 4)
