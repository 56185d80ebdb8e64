"""Two augmented views of each image, batched and seeded (no torchvision).

SimCLR's recipe scaled to small images: a random resized crop, a horizontal flip, a colour
jitter (brightness/contrast for every image; saturation and a random grayscale for colour
ones), a Gaussian blur and random erasing. Every random draw comes from the ``generator``
passed in, so an epoch's views depend only on ``(seed, epoch)`` and ``--resume`` replays them
exactly.

>>> views = ViewMaker(ViewConfig())
>>> v1, v2 = views.pair(torch.rand(4, 1, 28, 28), torch.Generator().manual_seed(0))
>>> v1.shape, bool((v1 != v2).any())
(torch.Size([4, 1, 28, 28]), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from siamkit.data.transforms import (
    Compose,
    RandomBrightnessContrast,
    RandomErasing,
    RandomHorizontalFlip,
    RandomResizedCropLite,
    Transform,
)

_GRAY = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights


def _uniform(n: int, low: float, high: float, gen: torch.Generator | None) -> Tensor:
    device = gen.device if gen is not None else torch.device("cpu")
    return torch.rand(n, generator=gen, device=device) * (high - low) + low


def _chosen(n: int, p: float, gen: torch.Generator | None, device: torch.device) -> Tensor:
    """``(N, 1, 1, 1)`` bool: which images a transform with probability ``p`` applies to."""
    return (_uniform(n, 0.0, 1.0, gen) < p).to(device).view(-1, 1, 1, 1)


def to_grayscale(x: Tensor) -> Tensor:
    """``(N, 3, H, W)`` RGB -> ``(N, 1, H, W)`` luma; one-channel images are returned as they are.

    >>> to_grayscale(torch.ones(1, 3, 2, 2)).shape
    torch.Size([1, 1, 2, 2])
    """
    if x.shape[1] == 1:
        return x
    w = torch.tensor(_GRAY, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


class RandomSaturationGray(Transform):
    """Colour images only: scale saturation by ``1 ± saturation`` (blend with the luma), then
    with probability ``gray_p`` replace the image by its luma in all channels. One-channel
    images pass through unchanged (nothing to saturate).
    """

    def __init__(self, saturation: float = 0.4, gray_p: float = 0.2) -> None:
        if not (0.0 <= saturation < 1.0 and 0.0 <= gray_p <= 1.0):
            raise ValueError("saturation must be in [0, 1) and gray_p in [0, 1]")
        self.saturation, self.gray_p = float(saturation), float(gray_p)

    def apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        s = _uniform(n, 1 - self.saturation, 1 + self.saturation, generator)
        gray_pick = _chosen(n, self.gray_p, generator, x.device)
        if x.shape[1] == 1:
            return x
        gray = to_grayscale(x)  # (N, 1, H, W)
        s = s.to(x.device, x.dtype).view(-1, 1, 1, 1)
        out = (gray + (x - gray) * s).clamp_(0.0, 1.0)
        return torch.where(gray_pick, gray.expand_as(x), out)


def gaussian_kernels(sigma: Tensor, size: int) -> Tensor:
    """``(N, size)`` normalised 1-D Gaussian kernels, one per ``sigma`` ``(N,)``.

    >>> gaussian_kernels(torch.tensor([1.0]), 3).sum().item()
    1.0
    """
    t = torch.arange(size, dtype=sigma.dtype, device=sigma.device) - (size - 1) / 2
    k = torch.exp(-(t[None, :] ** 2) / (2 * sigma[:, None] ** 2))
    return k / k.sum(dim=1, keepdim=True)


def blur_images(x: Tensor, sigma: Tensor) -> Tensor:
    """Blur each image ``(N, C, H, W)`` with its own Gaussian ``sigma`` ``(N,)`` (pixels),
    separably, with reflected borders; the kernel spans ``±3`` of the largest sigma."""
    n, c, h, w = x.shape
    half = max(1, min(math.ceil(3 * float(sigma.max())), (min(h, w) - 1)))
    k = gaussian_kernels(sigma.to(x.device, x.dtype), 2 * half + 1)  # (N, K)
    k = k.repeat_interleave(c, dim=0)  # (N*C, K): one kernel per image channel
    y = x.reshape(1, n * c, h, w)
    y = F.conv2d(F.pad(y, (half, half, 0, 0), mode="reflect"), k[:, None, None, :], groups=n * c)
    y = F.conv2d(F.pad(y, (0, 0, half, half), mode="reflect"), k[:, None, :, None], groups=n * c)
    return y.reshape(n, c, h, w)


class RandomGaussianBlur(Transform):
    """With probability ``p``, blur an image with sigma uniform in ``sigma`` times its side / 28
    (0.1-2 px at 28×28, SimCLR's 10 %-of-the-side kernel scaled down)."""

    def __init__(self, p: float = 0.5, sigma: tuple[float, float] = (0.1, 2.0)) -> None:
        if not 0.0 <= p <= 1.0 or not 0 < sigma[0] <= sigma[1]:
            raise ValueError("p must be in [0, 1] and sigma a positive (min, max)")
        self.p, self.sigma = float(p), (float(sigma[0]), float(sigma[1]))

    def apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        scale = min(x.shape[-2:]) / 28.0
        sigma = _uniform(n, self.sigma[0] * scale, self.sigma[1] * scale, generator)
        pick = _chosen(n, self.p, generator, x.device)
        return torch.where(pick, blur_images(x, sigma.to(x.device)), x)


@dataclass(frozen=True)
class ViewConfig:
    """How strong the views are (config section ``views``).

    Attributes:
        crop_scale: area share of the random resized crop (min, max).
        flip: mirror half of the views left-right (turn off for digits, letters, text).
        jitter: brightness and contrast change up to ``±jitter``; saturation too on colour images.
        jitter_p: share of views that are jittered.
        gray_p: share of colour views turned to grayscale.
        blur_p: share of views blurred.
        erase_p: share of views with a random rectangle erased.
    """

    crop_scale: tuple[float, float] = (0.25, 1.0)
    flip: bool = True
    jitter: float = 0.4
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: float = 0.5
    erase_p: float = 0.25


class _Maybe(Transform):
    """Apply ``inner`` to a ``p`` share of the images (the draws are made for every image)."""

    def __init__(self, inner: Transform, p: float) -> None:
        self.inner, self.p = inner, float(p)

    def apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        pick = _chosen(x.shape[0], self.p, generator, x.device)
        return torch.where(pick, self.inner.apply(x, generator), x)


class ViewMaker:
    """Makes the two views of a batch: ``pair(x (N, C, H, W) in [0, 1], generator)``."""

    def __init__(self, cfg: ViewConfig) -> None:
        steps: list[Transform] = [RandomResizedCropLite(cfg.crop_scale)]
        if cfg.flip:
            steps.append(RandomHorizontalFlip(0.5))
        jitter = Compose(
            [RandomBrightnessContrast(cfg.jitter, cfg.jitter), RandomSaturationGray(cfg.jitter, 0)]
        )
        steps += [
            _Maybe(jitter, cfg.jitter_p),
            RandomSaturationGray(0.0, cfg.gray_p),
            RandomGaussianBlur(cfg.blur_p),
            RandomErasing(p=cfg.erase_p),
        ]
        self.cfg, self.transform = cfg, Compose(steps)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """One view of each image of ``x``."""
        return self.transform(x, generator=generator)

    def pair(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Two independent views of each image: ``(N, C, H, W)`` twice."""
        return self(x, generator), self(x, generator)
