"""Random image augmentation in plain torch, batched and device-agnostic (no torchvision).

Every transform takes a float image ``(C, H, W)`` or batch ``(N, C, H, W)`` in ``[0, 1]`` on any
device and draws independent parameters per image. Parameters are drawn from ``generator`` (or
the global RNG) on the generator's device, so a seeded CPU generator gives the same augmentation
whether the images live on the CPU or a GPU.

Example:
    >>> import torch
    >>> augment = build_augmentation("standard")
    >>> gen = torch.Generator().manual_seed(0)
    >>> augment(torch.rand(8, 1, 28, 28), generator=gen).shape
    torch.Size([8, 1, 28, 28])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from siamkit.data.transforms_functional import (
    adjust_brightness_contrast,
    crop_resize,
    erase_rectangles,
    flip_horizontal,
    shift_images,
)

__all__ = [
    "AUGMENTATIONS",
    "Compose",
    "Identity",
    "RandomBrightnessContrast",
    "RandomErasing",
    "RandomHorizontalFlip",
    "RandomResizedCropLite",
    "RandomShift",
    "Transform",
    "build_augmentation",
]

AUGMENTATIONS = ("none", "light", "standard")


def _uniform(n: int, low: float, high: float, gen: torch.Generator | None) -> torch.Tensor:
    device = gen.device if gen is not None else torch.device("cpu")
    return torch.rand(n, generator=gen, device=device) * (high - low) + low


def _check_range(name: str, lo_hi: Sequence[float], low: float, high: float) -> tuple[float, float]:
    lo, hi = (float(v) for v in lo_hi)
    if not (low <= lo <= hi <= high):
        raise ValueError(
            f"{name} must be (min, max) with {low} <= min <= max <= {high}, got {lo_hi}."
        )
    return lo, hi


def _check_prob(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}.")
    return float(p)


class Transform:
    """Base class: handles single images, validates input, and calls :meth:`apply` on a batch."""

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError("Augmentations expect a float tensor in [0, 1] (convert uint8 first).")
        if x.ndim == 3:
            return self.apply(x.unsqueeze(0), generator)[0]
        if x.ndim != 4:
            raise ValueError(f"Expected (C, H, W) or (N, C, H, W), got shape {tuple(x.shape)}.")
        return self.apply(x, generator)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Augment a batch ``(N, C, H, W)``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Identity(Transform):
    """No augmentation."""

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return x


class Compose(Transform):
    """Apply transforms in order, sharing one generator.

    Example:
        >>> t = Compose([RandomShift(2), RandomHorizontalFlip(0.5)])
        >>> t(torch.rand(1, 28, 28)).shape
        torch.Size([1, 28, 28])
    """

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        for t in self.transforms:
            x = t.apply(x, generator)
        return x


class RandomShift(Transform):
    """Translate each image by up to ``max_px`` whole pixels in each direction.

    Example:
        >>> RandomShift(2)(torch.rand(4, 1, 28, 28)).shape
        torch.Size([4, 1, 28, 28])
    """

    def __init__(self, max_px: int = 2, fill: float = 0.0) -> None:
        if max_px < 0:
            raise ValueError(f"max_px must be >= 0, got {max_px}.")
        self.max_px, self.fill = int(max_px), float(fill)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        device = generator.device if generator is not None else torch.device("cpu")
        d = torch.randint(
            -self.max_px, self.max_px + 1, (2, x.shape[0]), generator=generator, device=device
        )
        return shift_images(x, d[0], d[1], self.fill)


class RandomResizedCropLite(Transform):
    """Crop a random box (area fraction ``scale``, aspect ``ratio``) and resize it back.

    A box drawn wider or taller than the image is clamped to the image's side, keeping its other
    side, so its area can fall below ``scale``'s low end (``(0.8, 1.0)``: ~3 % of crops at
    77.6-80 %) and its aspect leave ``ratio`` (torchvision redraws such boxes). Kept as is while
    the recorded self-supervised figures were measured with it.

    Example:
        >>> RandomResizedCropLite(scale=(0.7, 1.0))(torch.rand(4, 3, 32, 32)).shape
        torch.Size([4, 3, 32, 32])
    """

    def __init__(
        self,
        scale: Sequence[float] = (0.8, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
        size: tuple[int, int] | None = None,
    ) -> None:
        self.scale = _check_range("scale", scale, 1e-3, 1.0)
        self.ratio = _check_range("ratio", ratio, 1e-2, 1e2)
        self.size = size

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n = x.shape[0]
        area = _uniform(n, *self.scale, generator)
        log_r = _uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), generator)
        ratio = torch.exp(log_r)  # width / height
        height = torch.sqrt(area / ratio).clamp(max=1.0)
        width = torch.sqrt(area * ratio).clamp(max=1.0)
        cy = height / 2 + _uniform(n, 0.0, 1.0, generator) * (1 - height)
        cx = width / 2 + _uniform(n, 0.0, 1.0, generator) * (1 - width)
        boxes = torch.stack([cy, cx, height, width], dim=1)
        return crop_resize(x, boxes, self.size)


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = _check_prob(p)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return flip_horizontal(x, _uniform(x.shape[0], 0.0, 1.0, generator) < self.p)


class RandomBrightnessContrast(Transform):
    """Multiply brightness by ``1 ± brightness`` and contrast by ``1 ± contrast`` (uniform)."""

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2) -> None:
        if not (0 <= brightness < 1 and 0 <= contrast < 1):
            raise ValueError("brightness and contrast must be in [0, 1).")
        self.brightness, self.contrast = float(brightness), float(contrast)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n = x.shape[0]
        b = _uniform(n, 1 - self.brightness, 1 + self.brightness, generator)
        c = _uniform(n, 1 - self.contrast, 1 + self.contrast, generator)
        return adjust_brightness_contrast(x, b, c)


class RandomErasing(Transform):
    """With probability ``p``, set a random rectangle (area ``scale``, aspect ``ratio``) to ``value``.

    Example:
        >>> out = RandomErasing(p=1.0)(torch.ones(2, 1, 28, 28))
        >>> bool((out == 0).any())
        True
    """

    def __init__(
        self,
        p: float = 0.5,
        scale: Sequence[float] = (0.02, 0.2),
        ratio: Sequence[float] = (0.3, 3.3),
        value: float = 0.0,
    ) -> None:
        self.p = _check_prob(p)
        self.scale = _check_range("scale", scale, 0.0, 1.0)
        self.ratio = _check_range("ratio", ratio, 1e-2, 1e2)
        self.value = float(value)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n, _, h, w = x.shape
        area = _uniform(n, *self.scale, generator) * h * w
        ratio = torch.exp(_uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), generator))
        eh = torch.sqrt(area / ratio).round().clamp(1, h).to(torch.int64)
        ew = torch.sqrt(area * ratio).round().clamp(1, w).to(torch.int64)
        top = (_uniform(n, 0.0, 1.0, generator) * (h - eh + 1)).floor().to(torch.int64)
        left = (_uniform(n, 0.0, 1.0, generator) * (w - ew + 1)).floor().to(torch.int64)
        keep = _uniform(n, 0.0, 1.0, generator) >= self.p
        eh = eh.masked_fill(keep, 0)  # zero height erases nothing
        return erase_rectangles(x, top, left, eh, ew, self.value)


def build_augmentation(name: str = "standard", flip: bool = True) -> Transform:
    """A named augmentation recipe.

    Args:
        name: ``"none"``; ``"light"`` (shift by up to 2 px, mild brightness/contrast);
            ``"standard"`` (resized crop 80-100 %, flip, brightness/contrast ±20 %, erasing).
        flip: include the horizontal flip in ``"standard"`` (turn off for digits, letters, text).

    Raises:
        ValueError: unknown name.

    Example:
        >>> build_augmentation("light")
        Compose(transforms=[RandomShift(max_px=2, fill=0.0), RandomBrightnessContrast(brightness=0.1, contrast=0.1)])
    """
    if name == "none":
        return Identity()
    if name == "light":
        return Compose([RandomShift(2), RandomBrightnessContrast(0.1, 0.1)])
    if name == "standard":
        steps: list[Transform] = [RandomResizedCropLite((0.8, 1.0))]
        if flip:
            steps.append(RandomHorizontalFlip(0.5))
        steps += [RandomBrightnessContrast(0.2, 0.2), RandomErasing(p=0.25)]
        return Compose(steps)
    raise ValueError(f"Unknown augmentation {name!r}; choose one of {', '.join(AUGMENTATIONS)}.")
