"""SiamFC's tracking hyper-parameters (no torch needed, so the ONNX runtime path stays torch-free).

>>> TrackerParams(scale_num=5).scale_num
5
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from siamkit.registry import did_you_mean

#: The backbones' geometry (:mod:`~siamkit.applications.tracking.backbones`): a crop of
#: ``SMALLEST_CROP + k * STRIDE`` pixels gives ``k + 1`` feature cells. Only crops of such sizes
#: put the response map's centre cell on the search crop's centre, as the tracker and the
#: training labels take it.
STRIDE, SMALLEST_CROP = 8, 87


@dataclass(frozen=True)
class TrackerParams:
    """SiamFC's tracking hyper-parameters (the paper's values for 3 scales by default)."""

    exemplar_size: int = 127
    instance_size: int = 255
    context: float = 0.5  # padding p = context * (w + h), exemplar side sqrt((w + p)(h + p))
    scale_num: int = 3
    scale_step: float = 1.0375
    scale_penalty: float = 0.9745
    scale_lr: float = 0.59
    window_influence: float = 0.176
    response_up: int = 16
    template_lr: float = 0.0  # 0: exemplar from the first frame only; else a slow running average

    def __post_init__(self) -> None:
        for f in fields(self):  # a YAML "3" or 3.5 crashed deep inside tracking, frames later
            value, want = getattr(self, f.name), f.type if isinstance(f.type, str) else "?"
            ok = isinstance(value, int) if want == "int" else isinstance(value, (int, float))
            if isinstance(value, bool) or not ok:
                raise ValueError(f"tracker.{f.name} must be {want}, got {value!r}")
        if self.exemplar_size < 1 or self.response_up < 1:
            raise ValueError("exemplar_size and response_up must be >= 1")
        if self.context < 0 or self.scale_step <= 0:
            raise ValueError("context must be >= 0 and scale_step > 0")
        if not 0 < self.scale_penalty <= 1 or not 0 <= self.scale_lr <= 1:
            raise ValueError("scale_penalty must be in (0, 1] and scale_lr in [0, 1]")
        if self.scale_num < 1 or self.scale_num % 2 == 0:
            raise ValueError(f"scale_num must be odd and >= 1, got {self.scale_num}")
        if not 0 <= self.window_influence <= 1 or not 0 <= self.template_lr <= 1:
            raise ValueError("window_influence and template_lr must be in [0, 1]")
        if self.instance_size <= self.exemplar_size:
            raise ValueError("instance_size must be larger than exemplar_size")
        for name in ("exemplar_size", "instance_size"):
            # another size gave a response map of another size than the tracker and the labels
            # assume (training failed on a shape mismatch), or one whose centre was off the
            # crop's (the tracker drifted a little every frame)
            size = getattr(self, name)
            if size < SMALLEST_CROP or (size - SMALLEST_CROP) % STRIDE:
                near = SMALLEST_CROP + STRIDE * max(round((size - SMALLEST_CROP) / STRIDE), 0)
                raise ValueError(
                    f"tracker.{name} must be {SMALLEST_CROP} plus a multiple of {STRIDE} pixels "
                    f"(the backbones' smallest crop and total stride), got {size}: try {near}"
                )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackerParams:
        """Parameters from a ``tracker:`` map (missing keys keep their defaults); ``ValueError``
        names an unknown key (with the valid ones) or a value of the wrong type or range."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ValueError(
                f"unknown tracker parameter(s) {', '.join(map(str, unknown))}"
                f"{did_you_mean(unknown, valid)}; "
                f"valid keys: {', '.join(valid)}"
            )
        return cls(**d)
