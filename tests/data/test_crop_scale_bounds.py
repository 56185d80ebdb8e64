"""RandomResizedCropLite clamped a box drawn wider (or taller) than the image to the image's
side and kept the other side: the area fell below scale's low end (the standard recipe's
80-100 % crop took 3 % of its crops at 77.6-80 %). Such a box now keeps its area at the nearest
aspect that fits; every box that fits is drawn as before."""

from __future__ import annotations

import math

import pytest
import torch

import siamkit.data.transforms as transforms
from siamkit.data.transforms import RandomResizedCropLite


def _boxes(monkeypatch, crop: RandomResizedCropLite, n: int, seed: int) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    real = transforms.crop_resize

    def spy(x, boxes, size=None):
        seen.append(boxes.clone())
        return real(x, boxes, size)

    monkeypatch.setattr(transforms, "crop_resize", spy)
    crop(torch.rand(n, 1, 6, 6), generator=torch.Generator().manual_seed(seed))
    return seen[0]


@pytest.mark.parametrize(
    "scale, ratio",
    [((0.8, 1.0), (3 / 4, 4 / 3)), ((0.5, 1.0), (0.25, 4.0)), ((0.08, 1.0), (0.5, 2))],
)
def test_every_crop_has_an_area_in_scale_and_fits(monkeypatch, scale, ratio) -> None:
    n, seed = 4000, 7
    crop = RandomResizedCropLite(scale, ratio)
    cy, cx, h, w = _boxes(monkeypatch, crop, n, seed).unbind(1)
    area, aspect = h * w, w / h
    assert bool((area >= scale[0] - 1e-6).all() and (area <= scale[1] + 1e-6).all())
    assert bool((aspect >= ratio[0] - 1e-6).all() and (aspect <= ratio[1] + 1e-6).all())
    eps = 1e-6
    assert bool(((cy - h / 2 >= -eps) & (cy + h / 2 <= 1 + eps)).all())
    assert bool(((cx - w / 2 >= -eps) & (cx + w / 2 <= 1 + eps)).all())
    # the draws, replayed in a loop: a box that fits is the drawn one, unchanged
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(n, generator=gen) * (scale[1] - scale[0]) + scale[0]
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    r = torch.exp(torch.rand(n, generator=gen) * (hi - lo) + lo)
    for i in range(n):
        want_h, want_w = math.sqrt(a[i] / r[i]), math.sqrt(a[i] * r[i])
        if want_h <= 1 and want_w <= 1:
            assert h[i] == pytest.approx(want_h, abs=1e-6)
            assert w[i] == pytest.approx(want_w, abs=1e-6)
        else:  # the drawn area, at full width or height
            assert float(h[i] * w[i]) == pytest.approx(float(a[i]), abs=1e-6)
            assert max(float(h[i]), float(w[i])) == pytest.approx(1.0)
