"""The SiamFC tracking loop: exemplar from the first frame, scale pyramid, Hann window, damping.

>>> import numpy as np
>>> from siamkit.applications.tracking.model import SiamFCNet
>>> tracker = SiamFCTracker(SiamFCNet("tiny"))  # untrained; see load_pretrained_tracker
>>> frame = np.zeros((240, 320, 3), dtype=np.uint8)
>>> tracker.init(frame, (100, 80, 40, 60))
>>> result = tracker.update(frame)
>>> result.box.shape, 0 <= result.score <= 1
((4,), True)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from siamkit.applications.tracking.crops import (
    Vec,
    box_center,
    context_side,
    crop_square,
    to_tensor_batch,
)
from siamkit.applications.tracking.metrics import BoxFault, box_faults
from siamkit.applications.tracking.params import TrackerParams

if TYPE_CHECKING:
    from siamkit.applications.tracking.model import SiamFCNet
    from siamkit.applications.tracking.onnx import OnnxSiamFC


@dataclass(frozen=True)
class TrackResult:
    """One frame's output: ``box`` ``(4,)`` x, y, w, h; ``score`` (sigmoid of the peak logit).

    ``response`` is the chosen scale's upsampled, window-penalised response ``(U, U)`` and
    ``response_box`` the image square ``(x, y, side, side)`` it covers (for overlays).
    """

    box: np.ndarray
    score: float
    response: np.ndarray | None = None
    response_box: np.ndarray | None = None


def check_box(box: Vec, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Validate an initial ``(x, y, w, h)`` box against a frame (:func:`box_faults`); one clear
    sentence if it is bad."""
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    fault = box_faults(b, frame_shape)[0] if b.shape == (4,) else BoxFault.NOT_FINITE
    h, w = frame_shape[:2]
    if fault == BoxFault.NOT_FINITE:
        raise ValueError(f"a box is four finite numbers x, y, w, h; got {b.tolist()}")
    if fault == BoxFault.NEGATIVE_SIZE:
        raise ValueError(
            f"the box {b.tolist()} has a negative width or height: width and height must be positive"
        )
    if fault == BoxFault.ZERO_AREA:
        raise ValueError(f"the box {b.tolist()} has zero area: width and height must be positive")
    if fault == BoxFault.OUTSIDE_FRAME:
        raise ValueError(
            f"the box {b.tolist()} lies outside the {w}x{h} frame: give x,y,w,h in pixels of a "
            f"box inside it (x+w at most {w} and y+h at most {h}, x and y from 0)"
        )
    if fault == BoxFault.LARGER_THAN_FRAME:
        raise ValueError(
            f"the box {b.tolist()} is larger than the {w}x{h} frame: give the object's box in "
            f"pixels, w at most {w} and h at most {h}"
        )
    if fault == BoxFault.MOSTLY_OUTSIDE:
        raise ValueError(
            f"the box {b.tolist()} lies mostly outside the {w}x{h} frame: give a box whose "
            f"larger part is inside the frame (x from 0 to {w}, y from 0 to {h})"
        )
    return b


def check_frame(frame: Any) -> np.ndarray:
    """``frame`` if it is an RGB ``(H, W, 3)`` uint8 array; one sentence naming what it is and
    how to make one otherwise (a grey frame was "axes don't match array" from deep in numpy, an
    RGBA one a torch size mismatch, and a float frame in [0, 1] was tracked as a black image).

    Example:
        >>> check_frame(np.zeros((4, 6), np.uint8))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: a frame is an RGB image, a (H, W, 3) uint8 array; got shape (4, 6), a grey ...
    """
    if not isinstance(frame, np.ndarray):
        raise TypeError(
            f"a frame is an RGB image, a (H, W, 3) uint8 numpy array; got {type(frame).__name__}"
        )
    shape = tuple(frame.shape)
    if len(shape) == 2 or (len(shape) == 3 and shape[2] == 1):
        fix = "a grey frame: repeat it to 3 channels, cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)"
    elif len(shape) == 3 and shape[2] == 4:
        fix = "an RGBA frame: drop its alpha channel, frame[..., :3]"
    elif len(shape) != 3 or shape[2] != 3:
        fix = "give the frame's (height, width, 3) pixels"
    elif frame.dtype != np.uint8:
        raise ValueError(
            f"a frame is an RGB image, a (H, W, 3) uint8 array; got dtype {frame.dtype}: scale "
            "it to 0..255 and convert it, frame.astype(np.uint8)"
        )
    else:
        return frame
    raise ValueError(f"a frame is an RGB image, a (H, W, 3) uint8 array; got shape {shape}, {fix}")


#: How far the target may shrink or grow from its first box (Bertinetto et al.'s tracker and
#: siamfc-pytorch clamp the search area to [0.2, 5] times its initial size).
SCALE_LIMITS = (0.2, 5.0)


class SiamFCTracker:
    """Track one object with a :class:`SiamFCNet` (Bertinetto et al. 2016, Section 2.4)."""

    def __init__(
        self,
        net: SiamFCNet | OnnxSiamFC,
        params: TrackerParams | None = None,
        keep_response: bool = False,
    ) -> None:
        self.net = net
        if hasattr(net, "eval"):
            net.eval()
        self.p = params or net.params
        self.keep_response = keep_response
        n_resp = (self.p.instance_size - self.p.exemplar_size) // net.total_stride + 1
        self.upsize = n_resp * self.p.response_up
        hann = np.hanning(self.upsize)
        window = np.outer(hann, hann)
        self.window = window / window.sum()
        k = np.arange(self.p.scale_num) - (self.p.scale_num - 1) / 2
        self.scales = self.p.scale_step**k  # (S,)

    @property
    def size(self) -> np.ndarray:
        """The target's width and height now: its first size times :attr:`rel_scale`."""
        return self.size0 * self.rel_scale  # type: ignore[no-any-return]

    @property
    def z_side(self) -> float:
        """Side in image pixels of the exemplar square now."""
        return self.z_side0 * self.rel_scale

    @property
    def x_side(self) -> float:
        """Side in image pixels of the search square now."""
        return self.x_side0 * self.rel_scale

    def _embed(self, crops: list[np.ndarray]) -> Any:
        return self.net.embed_numpy(to_tensor_batch(crops))  # (K, C, h, w)

    def init(self, frame: np.ndarray, box: Vec) -> None:
        """Take the exemplar around ``box`` = ``(x, y, w, h)`` in ``frame`` (RGB ``(H, W, 3)`` uint8)."""
        b = check_box(box, check_frame(frame).shape)
        self.center = box_center(b)
        self.size0 = b[2:].copy()
        self.z_side0 = context_side(b, self.p.context)
        self.x_side0 = self.z_side0 * self.p.instance_size / self.p.exemplar_size
        # the box never grows past the frame, nor past SCALE_LIMITS of where it started
        h, w = frame.shape[:2]
        self.scale_range = (SCALE_LIMITS[0], min(SCALE_LIMITS[1], w / b[2], h / b[3]))
        self.rel_scale = 1.0  # the one record of the scale: size, z_side and x_side follow it
        self.fill = frame.reshape(-1, 3).mean(axis=0)
        z = crop_square(frame, self.center, self.z_side, self.p.exemplar_size, self.fill)
        self.kernel = self._embed([z])  # (1, C, 6, 6)

    def update(self, frame: np.ndarray) -> TrackResult:
        """Locate the target in the next frame (RGB ``(H, W, 3)`` uint8, as the first)."""
        check_frame(frame)
        p = self.p
        crops = [
            crop_square(frame, self.center, self.x_side * s, p.instance_size, self.fill)
            for s in self.scales
        ]
        logits = self.net.response_numpy(self.kernel, self._embed(crops))  # (S, 17, 17)
        up = np.stack(
            [
                cv2.resize(r, (self.upsize, self.upsize), interpolation=cv2.INTER_CUBIC)
                for r in logits
            ]
        )
        peaks = up.reshape(len(up), -1).max(axis=1)
        mid = (p.scale_num - 1) // 2
        peaks = np.where(np.arange(len(up)) == mid, peaks, peaks * p.scale_penalty)
        best = int(np.argmax(peaks))
        r = up[best] - up[best].min()
        r = r / (r.sum() + 1e-12)
        r = (1 - p.window_influence) * r + p.window_influence * self.window
        row, col = np.unravel_index(int(np.argmax(r)), r.shape)
        disp = (
            np.array([col, row], dtype=np.float64) - (self.upsize - 1) / 2
        )  # in the upsampled map
        disp *= self.net.total_stride / p.response_up  # in the search crop
        disp *= self.x_side * self.scales[best] / p.instance_size  # in the image
        searched = self.center  # the search crops' centre, where the response map lies
        self.center = np.clip(self.center + disp, 0, [frame.shape[1], frame.shape[0]])
        scale = (1 - p.scale_lr) + p.scale_lr * self.scales[best]
        rel = float(np.clip(self.rel_scale * scale, *self.scale_range))
        scale, self.rel_scale = rel / self.rel_scale, rel
        if p.template_lr > 0:
            z = crop_square(frame, self.center, self.z_side, p.exemplar_size, self.fill)
            self.kernel = (1 - p.template_lr) * self.kernel + p.template_lr * self._embed([z])
        box = np.r_[self.center - self.size / 2, self.size]
        score = float(1 / (1 + np.exp(-float(logits[best].max()))))
        if not self.keep_response:
            return TrackResult(box, score)
        # the upsampled map's U pixels span U / response_up cells of total_stride crop pixels
        # (edge to edge, as cv2.resize maps them; "U / response_up - 1" cells drew its peak up
        # to 4 crop pixels nearer the centre than the box went)
        side = (
            self.x_side
            / scale
            * self.scales[best]
            * (self.upsize / p.response_up)
            * self.net.total_stride
            / p.instance_size
        )
        # centred where the crops were taken: "center - disp" is not that where the new centre
        # was clipped to the frame (the map was drawn shifted by what was clipped off)
        resp_box = np.r_[searched - side / 2, side, side]
        return TrackResult(box, score, r, resp_box)

    def track(self, frames: Iterable[np.ndarray], box: Vec) -> Iterator[TrackResult]:
        """Yield a result per frame; the first is the given box with score 1."""
        it = iter(frames)
        first = next(it)
        self.init(first, box)
        yield TrackResult(check_box(box, first.shape), 1.0)
        for frame in it:
            yield self.update(frame)
