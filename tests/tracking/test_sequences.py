"""Sequence folders on disk: frame order, hidden files, corrupt frames, multi-target OTB, and
frames without ground truth in evaluation and training pairs."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from siamkit.applications.tracking.evaluate import evaluate_tracker
from siamkit.applications.tracking.pairs import SequencePairs
from siamkit.data.tracking_sequences import TrackingSequence, read_sequence, read_sequences


def _frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        Image.fromarray(np.full((12, 16, 3), k * 10, np.uint8)).save(folder / name)


def test_unpadded_frame_names_play_in_number_order_and_hidden_files_are_ignored(
    tmp_path: Path,
) -> None:
    seq_dir = tmp_path / "seq"
    _frames(seq_dir, [f"{i}.png" for i in range(1, 13)])
    (seq_dir / "._1.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS resource fork
    (seq_dir / "groundtruth.txt").write_text("1,1,4,4\n" * 12)
    seq = read_sequence(seq_dir)
    assert [p.name for p in seq.frames] == [f"{i}.png" for i in range(1, 13)]  # type: ignore[union-attr]
    assert seq.frame(1)[0, 0, 0] == 10  # the second frame written


def test_a_corrupt_frame_is_named_in_one_sentence(tmp_path: Path) -> None:
    seq_dir = tmp_path / "seq"
    _frames(seq_dir, [f"{i:08d}.jpg" for i in range(1, 4)])
    (seq_dir / "00000002.jpg").write_bytes(b"garbage")
    (seq_dir / "groundtruth.txt").write_text("1,1,4,4\n" * 3)
    seq = read_sequence(seq_dir)
    with pytest.raises(
        ValueError, match=r"cannot read the frame .*00000002\.jpg: it is not a valid"
    ):
        seq.frame(1)


def test_multi_target_otb_folder_is_one_sequence_per_ground_truth(tmp_path: Path) -> None:
    jog = tmp_path / "data" / "Jogging"
    _frames(jog / "img", [f"{i:04d}.jpg" for i in range(1, 4)])
    (jog / "groundtruth_rect.1.txt").write_text("1\t1\t4\t4\n" * 3)
    (jog / "groundtruth_rect.2.txt").write_text("5\t5\t3\t3\n" * 3)
    seqs = read_sequences(tmp_path / "data")
    assert [s.name for s in seqs] == ["Jogging.1", "Jogging.2"]
    assert seqs[1].boxes[0].tolist() == [5, 5, 3, 3]
    assert [s.name for s in read_sequences(jog)] == ["Jogging.1", "Jogging.2"]


class _Still:
    """A tracker that stays where it started (counts how often it was made)."""

    made = 0

    def __init__(self) -> None:
        type(self).made += 1

    def init(self, frame: np.ndarray, box: object) -> None:
        self.box = np.asarray(box, float)

    def update(self, frame: np.ndarray) -> np.ndarray:
        return self.box


def test_a_ground_truth_not_in_utf8_is_one_sentence_naming_its_line(tmp_path: Path) -> None:
    """A ground truth saved as Latin-1 (a note in it) stopped with Python's bare "'utf-8' codec
    can't decode byte 0xe9 in position 16"; one saved with a byte-order mark (Windows) was
    refused as "line 1 is not four numbers"."""
    seq_dir = tmp_path / "seq"
    _frames(seq_dir, [f"{i:08d}.jpg" for i in range(1, 3)])
    (seq_dir / "groundtruth.txt").write_bytes(b"\xef\xbb\xbf1,1,4,4\n1,1,4,4\n")
    assert read_sequence(seq_dir).boxes.tolist() == [[1, 1, 4, 4]] * 2
    (seq_dir / "groundtruth.txt").write_bytes(b"1,1,4,4\n1,1,4,4\n# caf\xe9\n")
    with pytest.raises(ValueError) as err:
        read_sequence(seq_dir)
    assert str(err.value) == (
        f"{seq_dir / 'groundtruth.txt'} line 3: byte 0xe9 at offset 21 is not UTF-8 text; save "
        "the file as UTF-8"
    )


def test_a_first_frame_without_a_box_is_refused_before_any_tracking(tmp_path: Path) -> None:
    good = tmp_path / "data" / "a"
    _frames(good, [f"{i:08d}.jpg" for i in range(1, 4)])
    (good / "groundtruth.txt").write_text("1,1,4,4\n" * 3)
    bad = tmp_path / "data" / "b"
    _frames(bad / "img", [f"{i:04d}.jpg" for i in range(1, 4)])
    (bad / "groundtruth_rect.txt").write_text("NaN,NaN,NaN,NaN\n1,1,4,4\n1,1,4,4\n")
    seqs = read_sequences(tmp_path / "data")
    _Still.made = 0
    with pytest.raises(ValueError) as err:
        evaluate_tracker(_Still, seqs)
    message = str(err.value)
    assert f"{bad / 'groundtruth_rect.txt'} line 1 has no box for the first frame" in message
    assert "(nan, nan, nan, nan)" in message and "needs one to start" in message
    assert "np.float64" not in message
    assert _Still.made == 0  # nothing was tracked before the refusal


def test_a_first_box_the_tracker_refuses_stops_evaluation_before_any_tracking(
    tmp_path: Path,
) -> None:
    """A first box larger than the frame is refused by the tracker; evaluation checks it up
    front, so the sequences before it are not tracked for nothing."""
    good = tmp_path / "data" / "a"
    _frames(good, [f"{i:08d}.jpg" for i in range(1, 4)])
    (good / "groundtruth.txt").write_text("1,1,4,4\n" * 3)
    big = tmp_path / "data" / "b"
    _frames(big, [f"{i:08d}.jpg" for i in range(1, 4)])
    (big / "groundtruth.txt").write_text("0,0,40,30\n" * 3)  # the frames are 16 x 12
    seqs = read_sequences(tmp_path / "data")
    _Still.made = 0
    with pytest.raises(ValueError, match="the first box cannot start the tracker"):
        evaluate_tracker(_Still, seqs)
    assert _Still.made == 0


def test_evaluation_leaves_frames_without_ground_truth_out() -> None:
    nan = float("nan")
    frames = [np.zeros((20, 20, 3), np.uint8)] * 4
    gt = np.array([[2, 2, 4, 4], [nan] * 4, [2, 2, 4, 4], [12, 12, 4, 4]])
    scores, runs = evaluate_tracker(_Still, [TrackingSequence("s", frames, gt)])
    # scored: frames 2 (IoU 1) and 3 (lost); frame 1 has no ground truth
    assert scores.n_frames == 2 and scores.frames_lost == 1
    assert runs[0].scores.success_auc == pytest.approx(20 / 42)


def test_training_pairs_never_use_a_frame_without_a_box() -> None:
    nan = float("nan")
    frames = [np.full((20, 20, 3), k, np.uint8) for k in range(6)]
    gt = np.array([[2, 2, 4, 4], [nan] * 4, [2, 2, 0, 4], [2, 2, 4, 4], [nan] * 4, [2, 2, 4, 4]])
    source = SequencePairs([TrackingSequence("s", frames, gt)], max_gap=1)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        for frame, box in source.sample(rng):
            assert np.isfinite(box).all() and box[2] > 0 and box[3] > 0
            seen.add(int(frame[0, 0, 0]))
    assert seen == {0, 3, 5}
    with pytest.raises(
        ValueError, match="no training sequence has a frame with a ground-truth box"
    ):
        SequencePairs([TrackingSequence("s", frames[:1], np.array([[nan] * 4]))])


def test_training_pairs_draw_as_before_when_every_frame_has_a_box() -> None:
    from siamkit.applications.tracking.pairs import _gap_pair

    frames = [np.full((20, 20, 3), k, np.uint8) for k in range(30)]
    source = SequencePairs([TrackingSequence("s", frames, np.tile([2, 2, 4, 4], (30, 1)))], 5)
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(50):
        (fz, _), (fx, _) = source.sample(a)
        b.integers(1)  # the sequence choice
        assert (int(fz[0, 0, 0]), int(fx[0, 0, 0])) == _gap_pair(b, 30, 5)


def test_a_failure_converting_a_read_frame_is_not_called_a_corrupt_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TrackingSequence.frame converted a frame inside the except that names a damaged file, so a
    bug in siamkit's conversion was reported as "cannot read the frame ...: it is not a valid
    image". Only Pillow's open and load are inside it now; the bug is raised as itself."""
    import siamkit.data.tracking_sequences as tracking_sequences

    def bug(img: Image.Image, mode: str) -> Image.Image:
        raise ValueError("a bug in the conversion (simulated)")

    seq_dir = tmp_path / "seq"
    _frames(seq_dir, ["1.png", "2.png"])
    (seq_dir / "groundtruth.txt").write_text("1,1,4,4\n" * 2)
    seq = read_sequence(seq_dir)
    monkeypatch.setattr(tracking_sequences, "convert_image", bug)
    with pytest.raises(ValueError, match=r"^a bug in the conversion \(simulated\)$"):
        seq.frame(1)


@pytest.mark.parametrize(
    "error",
    [
        TypeError("'NoneType' object is not subscriptable"),
        IndexError("tuple index out of range"),
        KeyError(317),
        struct.error("unpack requires a buffer of 4 bytes"),
        OSError("image file is truncated"),
    ],
    ids=["TypeError", "IndexError", "KeyError", "struct.error", "OSError"],
)
@pytest.mark.parametrize("where", ["open", "load"])
def test_whatever_pillow_raises_on_a_damaged_frame_names_the_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, error: Exception
) -> None:
    """Some damaged files make Pillow raise TypeError, IndexError, KeyError or struct.error, which
    frame() let through (a traceback in ``siamkit evaluate-tracking``); they name the frame now."""
    seq_dir = tmp_path / "seq"
    _frames(seq_dir, ["1.png", "2.png"])
    (seq_dir / "groundtruth.txt").write_text("1,1,4,4\n" * 2)
    seq = read_sequence(seq_dir)

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    if where == "open":
        monkeypatch.setattr(Image, "open", fail)
    else:
        monkeypatch.setattr(ImageFile.ImageFile, "load", fail)
    with pytest.raises(ValueError) as err:
        seq.frame(1)
    assert str(err.value) == (
        f"cannot read the frame {seq_dir / '2.png'}: it is not a valid image (corrupt or "
        "truncated), so replace it with the frame's image"
    )


def test_running_out_of_memory_reading_a_frame_is_not_called_a_damaged_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seq_dir = tmp_path / "seq"
    _frames(seq_dir, ["1.png"])
    (seq_dir / "groundtruth.txt").write_text("1,1,4,4\n")
    seq = read_sequence(seq_dir)
    error = MemoryError()

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(ImageFile.ImageFile, "load", fail)
    with pytest.raises(MemoryError) as err:
        seq.frame(0)
    assert err.value is error
