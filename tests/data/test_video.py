"""siamkit.data.video: reading frames from a video file."""

from __future__ import annotations

from typing import Any

import pytest

from siamkit.data import video as video_mod


class _NoFrames:
    """A capture that opened but decodes nothing from frame 0 on."""

    def grab(self) -> bool:
        return False

    def read(self) -> tuple[bool, Any]:
        return False, None

    def release(self) -> None:
        pass


@pytest.mark.parametrize("start", [1, 5])
def test_iter_video_of_a_video_with_no_decodable_frame_says_so(
    monkeypatch: pytest.MonkeyPatch, start: int
) -> None:
    """Skipping to frame 5 of a video whose first grab fails said it 'has only 0 frames (0 to -1)'
    and to 'start at a frame below 0'."""
    monkeypatch.setattr(video_mod, "open_video", lambda path: (_NoFrames(), None))
    with pytest.raises(ValueError) as err:
        list(video_mod.iter_video("v.mp4", start))
    assert str(err.value) == "v.mp4 has no frames that can be decoded"
