"""SiamFC's tracking hyper-parameters (no torch needed, so the ONNX runtime path stays torch-free).

>>> TrackerParams(scale_num=5).scale_num
5
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields
from typing import Any

from siamkit.clauses import counted, in_number
from siamkit.registry import did_you_mean

#: The backbones' geometry (:mod:`~siamkit.applications.tracking.backbones`): a crop of
#: ``SMALLEST_CROP + k * STRIDE`` pixels or more gives ``k + 1`` feature cells, on a grid of
#: ``STRIDE`` pixels from the crop's corner. Exemplar pixel p lines up with search pixel
#: p + (instance_size - exemplar_size) / 2, the two crops' centres with each other, when the
#: sizes differ by a multiple of ``STRIDE``: then the response has ``(instance_size -
#: exemplar_size) / STRIDE + 1`` cells centred on the search crop, as the tracker and the training
#: labels take it, whatever the exemplar size (128 and 256 align as exactly as 127 and 255).
STRIDE, SMALLEST_CROP = 8, 87


class OffGridSizeWarning(UserWarning):
    """A saved tracker (or an export, or a run resumed) whose ``instance_size`` is off the
    backbones' grid, made before such sizes were refused: it is read as
    :func:`grid_instance_size`'s (the command line says it as one ``warning: ...`` line)."""


def grid_instance_size(exemplar_size: int, instance_size: int) -> int:
    """The ``instance_size`` on the backbones' grid that an off-grid one is read as:
    ``exemplar_size`` plus the whole strides between the two, and at least one, the smallest
    search crop the tracker takes. From a gap of a stride or more, it is the part of the larger
    crop the response cells come from, centred on the crop; the larger crop's last pixels (fewer
    than ``STRIDE``) only pushed them off its centre (a model trained so gave as many cells: its
    labels had that many). A gap under a stride is widened: 130 with exemplar 127 gave one cell,
    and 135 gives two.

    >>> grid_instance_size(127, 250), grid_instance_size(127, 255), grid_instance_size(127, 130)
    (247, 255, 135)
    """
    return exemplar_size + STRIDE * max((instance_size - exemplar_size) // STRIDE, 1)


def _cells(exemplar_size: int, instance_size: int) -> int:
    """How many response cells (a side) the backbones give for these crops, on the grid or off
    it: a crop of ``size`` pixels gives ``(size - SMALLEST_CROP) // STRIDE + 1`` feature cells."""
    return (instance_size - SMALLEST_CROP) // STRIDE - (exemplar_size - SMALLEST_CROP) // STRIDE + 1


def read_saved_sizes(tracker: dict[str, Any], where: str, warn: bool = True) -> dict[str, Any]:
    """A saved ``tracker:`` map (a model's, an export's, a checkpoint's) with an off-grid
    ``instance_size`` replaced by :func:`grid_instance_size`'s, said by an
    :class:`OffGridSizeWarning` naming ``where`` (the file to edit; none with ``warn=False``).
    Refusing it left a model that trained and tracked unusable, though its weights do not
    depend on the size; a new run's config is refused instead (:class:`TrackerParams`)."""
    exemplar = tracker.get("exemplar_size", TrackerParams.exemplar_size)
    instance = tracker.get("instance_size", TrackerParams.instance_size)
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (exemplar, instance))
    if not ints or exemplar < SMALLEST_CROP or instance <= exemplar:
        return tracker  # refused by TrackerParams as it stands: no size to snap to
    size = grid_instance_size(exemplar, instance)
    if size == instance or not warn:
        return tracker if size == instance else {**tracker, "instance_size": size}
    cells, before = (size - exemplar) // STRIDE + 1, _cells(exemplar, instance)
    if cells == before:
        read = f"the same {cells} response cells centred on the search crop"
    else:  # a gap under a stride (widened), or cells a model could not have trained with
        read = (
            f"{'widened' if cells > before else 'narrowed'} to {cells} response cells centred "
            f"on the search crop from the {counted(before, 'cell')} {instance} gave"
        )
    least = "the tracker takes no fewer than 2; " if instance - exemplar < STRIDE else ""
    warnings.warn(
        f"{where} has instance_size {instance}, off the backbones' {STRIDE}-pixel grid "
        f"from exemplar_size {exemplar}, so it is read as {size}, {read} ({least}the weights "
        f"do not depend on it); set its instance_size to {size} to silence this",
        OffGridSizeWarning,
        stacklevel=3,
    )
    return {**tracker, "instance_size": size}


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
        # other sizes gave a response map of another size than the tracker and the labels
        # assume (training failed on a shape mismatch), or one whose centre was off the crop's
        # (the tracker drifted a little every frame)
        if self.exemplar_size < SMALLEST_CROP:
            raise ValueError(
                f"tracker.exemplar_size must be at least {SMALLEST_CROP} pixels (the backbones' "
                f"smallest crop, one feature cell), got {self.exemplar_size}"
            )
        gap = self.instance_size - self.exemplar_size
        if gap % STRIDE:
            cells = max(round(gap / STRIDE), 1)
            exemplar = self.instance_size - STRIDE * cells
            other = f" or exemplar_size {exemplar}" if exemplar >= SMALLEST_CROP else ""
            raise ValueError(
                f"tracker.instance_size must be exemplar_size plus a multiple of {STRIDE} pixels "
                f"(the backbones' total stride), got {self.instance_size} with exemplar_size "
                f"{self.exemplar_size}: try instance_size "
                f"{self.exemplar_size + STRIDE * cells}{other}"
            )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackerParams:
        """Parameters from a ``tracker:`` map (missing keys keep their defaults); ``ValueError``
        names an unknown key (with the valid ones) or a value of the wrong type or range."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ValueError(
                f"unknown tracker {in_number(len(unknown), 'parameter')} "
                f"{', '.join(map(str, unknown))}"
                f"{did_you_mean(unknown, valid)}; "
                f"valid keys: {', '.join(valid)}"
            )
        return cls(**d)
