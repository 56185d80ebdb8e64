"""SiamFCTracker refuses a frame that is no RGB (H, W, 3) uint8 array in one sentence."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.tracker import SiamFCTracker

RGB = np.zeros((60, 80, 3), np.uint8)
BOX = (10, 10, 20, 20)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            np.zeros((60, 80), np.uint8),  # was "axes don't match array" from numpy
            "a frame is an RGB image, a (H, W, 3) uint8 array; got shape (60, 80), a grey frame: "
            "repeat it to 3 channels, cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)",
        ),
        (
            np.zeros((60, 80, 1), np.uint8),
            "a frame is an RGB image, a (H, W, 3) uint8 array; got shape (60, 80, 1), a grey "
            "frame: repeat it to 3 channels, cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)",
        ),
        (
            np.zeros((60, 80, 4), np.uint8),  # was a torch size mismatch
            "a frame is an RGB image, a (H, W, 3) uint8 array; got shape (60, 80, 4), an RGBA "
            "frame: drop its alpha channel, frame[..., :3]",
        ),
        (
            np.full((60, 80, 3), 0.5),  # was tracked as a black image
            "a frame is an RGB image, a (H, W, 3) uint8 array; got dtype float64: scale it to "
            "0..255 and convert it, frame.astype(np.uint8)",
        ),
    ],
)
def test_a_frame_that_is_no_rgb_uint8_array_is_refused_by_name(
    frame: np.ndarray, message: str
) -> None:
    tracker = SiamFCTracker(SiamFCNet("tiny"))
    with pytest.raises(ValueError) as err:
        tracker.init(frame, BOX)
    assert str(err.value) == message
    tracker.init(RGB, BOX)
    with pytest.raises(ValueError) as err:
        tracker.update(frame)
    assert str(err.value) == message
    assert tracker.update(RGB).box.shape == (4,)


def test_a_frame_that_is_no_array_is_a_type_error() -> None:
    with pytest.raises(TypeError) as err:
        SiamFCTracker(SiamFCNet("tiny")).init([[0, 0, 0]], BOX)  # type: ignore[arg-type]
    assert str(err.value) == "a frame is an RGB image, a (H, W, 3) uint8 numpy array; got list"
