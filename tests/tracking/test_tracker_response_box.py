"""The response map --show-response overlays covers the image square it is said to: its peak
is drawn where the tracker moved the box's centre."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.tracking.params import TrackerParams
from siamkit.applications.tracking.tracker import SiamFCTracker


class _FixedResponse:
    """A network stand-in whose response logits are given (the scale pyramid's maps)."""

    total_stride = 8

    def __init__(self, maps: np.ndarray, params: TrackerParams) -> None:
        self.maps, self.params = maps, params

    def embed_numpy(self, crops: np.ndarray) -> np.ndarray:
        return crops[:, :, :6, :6]

    def response_numpy(self, kernel: np.ndarray, feats: np.ndarray) -> np.ndarray:
        return self.maps.copy()


@pytest.mark.parametrize(("scale", "row", "col"), [(1, 16, 16), (0, 2, 13), (2, 8, 0)])
def test_the_response_peak_is_drawn_at_the_new_box_centre(scale: int, row: int, col: int) -> None:
    maps = np.zeros((3, 17, 17), np.float32)
    maps[scale, row, col] = 10.0
    net = _FixedResponse(maps, TrackerParams(window_influence=0.0, scale_penalty=1.0))
    tracker = SiamFCTracker(net, keep_response=True)  # type: ignore[arg-type]
    tracker.init(np.zeros((600, 800, 3), np.uint8), (380, 280, 60, 40))
    res = tracker.update(np.zeros((600, 800, 3), np.uint8))
    assert res.response is not None and res.response_box is not None
    x, y, side, side_y = res.response_box
    assert side == side_y
    u = len(res.response)
    r, c = np.unravel_index(int(res.response.argmax()), res.response.shape)
    drawn = np.array([x + (c + 0.5) * side / u, y + (r + 0.5) * side / u])  # pixel centre
    np.testing.assert_allclose(drawn, res.box[:2] + res.box[2:] / 2, atol=1e-6)


def test_at_the_frame_edge_the_map_is_drawn_over_the_search_area() -> None:
    """The map lies over the search crops, centred where the box was; it was centred at the new
    centre less the displacement, which is not the old centre where the new one was clipped to
    the frame: at the left edge the map was drawn 14.5 px right of the area searched."""
    maps = np.zeros((3, 17, 17), np.float32)
    maps[1, 8, 0] = 10.0  # the peak far left, past the frame's edge
    net = _FixedResponse(maps, TrackerParams(window_influence=0.0, scale_penalty=1.0))
    tracker = SiamFCTracker(net, keep_response=True)  # type: ignore[arg-type]
    tracker.init(np.zeros((300, 400, 3), np.uint8), (2, 100, 30, 30))  # centre (17, 115)
    res = tracker.update(np.zeros((300, 400, 3), np.uint8))
    assert res.response_box is not None
    assert res.box[0] + res.box[2] / 2 == 0  # clipped: the peak lay left of the frame
    x, y, side, _ = res.response_box
    np.testing.assert_allclose([x + side / 2, y + side / 2], [17, 115], atol=1e-9)
