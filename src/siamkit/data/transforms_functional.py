"""Deterministic, batched image operations behind the random augmentations.

Every function takes a float batch ``(N, C, H, W)`` plus per-sample parameters (tensors of length
N) and works on any device without Python loops over the batch.

Example:
    >>> import torch
    >>> x = torch.rand(2, 1, 5, 5)
    >>> shift_images(x, torch.tensor([1, 0]), torch.tensor([0, -2])).shape
    torch.Size([2, 1, 5, 5])
"""

from __future__ import annotations

import torch

__all__ = [
    "adjust_brightness_contrast",
    "crop_resize",
    "erase_rectangles",
    "flip_horizontal",
    "shift_images",
]


_MATMUL_MAX_SIDE = 128


def _linear_weights(coords: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (triangle) weights ``(N, M, size)`` for source pixel positions ``(N, M)``."""
    k = torch.arange(size, device=coords.device, dtype=coords.dtype)
    return (1.0 - (coords[..., None] - k).abs()).clamp_(min=0.0)


def _separable(x: torch.Tensor, wy: torch.Tensor, wx: torch.Tensor) -> torch.Tensor:
    """``out[n, c] = wy[n] @ x[n, c] @ wx[n].T``: (N, C, H, W) -> (N, C, H', W') by two matmuls."""
    return wy[:, None] @ x @ wx[:, None].transpose(-1, -2)


def _gather_axis(x: torch.Tensor, index: torch.Tensor, axis: int) -> torch.Tensor:
    """Pick rows (``axis=-2``) or columns (``axis=-1``) per image: index ``(N, M)`` int64."""
    n, c, h, w = x.shape
    m = index.shape[1]
    if axis == -2:
        return x.gather(-2, index[:, None, :, None].expand(n, c, m, w))
    return x.gather(-1, index[:, None, None, :].expand(n, c, h, m))


def _lerp_axis(x: torch.Tensor, coords: torch.Tensor, axis: int) -> torch.Tensor:
    """Linear interpolation along one axis at source positions ``coords`` ``(N, M)``."""
    size = x.shape[axis]
    low = coords.floor().clamp(0, size - 1)
    frac = coords - low
    frac = frac[:, None, :, None] if axis == -2 else frac[:, None, None, :]
    i0 = low.to(torch.int64)
    a, b = _gather_axis(x, i0, axis), _gather_axis(x, (i0 + 1).clamp(max=size - 1), axis)
    return a + (b - a) * frac


def shift_images(
    x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, fill: float = 0.0
) -> torch.Tensor:
    """Translate each image by whole pixels, filling uncovered pixels with ``fill``.

    Two gathers (rows, then columns) and a mask: exact, O(N·C·H·W), no Python loop.

    Args:
        x: ``(N, C, H, W)``.
        dy, dx: ``(N,)`` integer shifts; positive moves content down / right.
        fill: value for pixels shifted in from outside.

    Returns:
        ``(N, C, H, W)``: ``out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]]`` where inside.

    Example:
        >>> shift_images(torch.eye(3)[None, None], torch.tensor([1]), torch.tensor([0]))[0, 0]
        tensor([[0., 0., 0.],
                [1., 0., 0.],
                [0., 1., 0.]])
    """
    _, _, h, w = x.shape
    rows = torch.arange(h, device=x.device)[None, :] - dy.to(x.device, torch.int64)[:, None]
    cols = torch.arange(w, device=x.device)[None, :] - dx.to(x.device, torch.int64)[:, None]
    out = _gather_axis(_gather_axis(x, rows.clamp(0, h - 1), -2), cols.clamp(0, w - 1), -1)
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    return out.masked_fill(~inside[:, None], fill)


def flip_horizontal(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror the images where ``mask`` (``(N,)`` bool) is True.

    Example:
        >>> flip_horizontal(torch.arange(3.0).view(1, 1, 1, 3), torch.tensor([True]))
        tensor([[[[2., 1., 0.]]]])
    """
    return torch.where(mask.to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)


def adjust_brightness_contrast(
    x: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor
) -> torch.Tensor:
    """Scale brightness then contrast per image, clamped to ``[0, 1]``.

    ``y = x * b``; ``out = clamp((y - mean(y)) * c + mean(y), 0, 1)`` with the mean over each
    image's pixels and channels.

    Args:
        x: ``(N, C, H, W)`` in ``[0, 1]``.
        brightness, contrast: ``(N,)`` positive factors (1 = unchanged).

    Example:
        >>> x = torch.full((1, 1, 2, 2), 0.5)
        >>> adjust_brightness_contrast(x, torch.tensor([1.2]), torch.tensor([1.0]))[0, 0, 0, 0]
        tensor(0.6000)
    """
    b = brightness.to(x.device, x.dtype).view(-1, 1, 1, 1)
    c = contrast.to(x.device, x.dtype).view(-1, 1, 1, 1)
    y = x * b
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    return ((y - mean) * c + mean).clamp_(0.0, 1.0)


def erase_rectangles(
    x: torch.Tensor,
    top: torch.Tensor,
    left: torch.Tensor,
    height: torch.Tensor,
    width: torch.Tensor,
    value: float = 0.0,
) -> torch.Tensor:
    """Set one rectangle per image to ``value`` (a zero height or width erases nothing).

    Args:
        x: ``(N, C, H, W)``.
        top, left, height, width: ``(N,)`` integer rectangle per image (pixels).

    Example:
        >>> out = erase_rectangles(torch.ones(1, 1, 3, 3), *[torch.tensor([v]) for v in (1, 1, 2, 1)])
        >>> out[0, 0].tolist()
        [[1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 0.0, 1.0]]
    """
    _, _, h, w = x.shape
    dev = x.device
    top, left = top.to(dev).view(-1, 1, 1), left.to(dev).view(-1, 1, 1)
    bottom, right = top + height.to(dev).view(-1, 1, 1), left + width.to(dev).view(-1, 1, 1)
    rows = torch.arange(h, device=dev).view(1, h, 1)
    cols = torch.arange(w, device=dev).view(1, 1, w)
    inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)  # (N, H, W)
    return x.masked_fill(inside[:, None], value)


def crop_resize(
    x: torch.Tensor,
    boxes: torch.Tensor,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Crop a box from each image and resize it with bilinear interpolation.

    Equivalent to ``grid_sample(mode="bilinear", padding_mode="border", align_corners=False)``
    over an axis-aligned affine grid, but separable: two batched matmuls with interpolation
    matrices for small images (about 9× faster than ``grid_sample`` on CPU at 28×28), row and
    column gathers for large ones.

    Args:
        x: ``(N, C, H, W)``.
        boxes: ``(N, 4)`` as ``(center_y, center_x, height, width)`` in fractions of the image
            (``(0.5, 0.5, 1, 1)`` is the whole image).
        size: output ``(H', W')``; default the input size.

    Returns:
        ``(N, C, H', W')``.

    Example:
        >>> x = torch.rand(2, 3, 8, 8)
        >>> full = torch.tensor([[0.5, 0.5, 1.0, 1.0]] * 2)
        >>> torch.allclose(crop_resize(x, full), x, atol=1e-6)
        True
    """
    _, _, h, w = x.shape
    out_h, out_w = size if size is not None else (h, w)
    b = boxes.to(x.device, x.dtype)
    coords_y = _source_coords(b[:, 0], b[:, 2], out_h, h)  # (N, H')
    coords_x = _source_coords(b[:, 1], b[:, 3], out_w, w)  # (N, W')
    if max(h, w) <= _MATMUL_MAX_SIDE:  # small images: two tiny batched matmuls are fastest
        return _separable(x, _linear_weights(coords_y, h), _linear_weights(coords_x, w))
    return _lerp_axis(_lerp_axis(x, coords_y, -2), coords_x, -1)  # large: O(H·W) gathers


def _source_coords(center: torch.Tensor, extent: torch.Tensor, out: int, size: int) -> torch.Tensor:
    """Input pixel positions ``(N, out)`` sampled by ``out`` output pixels along one axis."""
    t = (torch.arange(out, device=center.device, dtype=center.dtype) + 0.5) / out  # (out,)
    frac = center[:, None] + (t[None, :] - 0.5) * extent[:, None]  # fraction of the image
    return (frac * size - 0.5).clamp(0.0, size - 1.0)  # border padding, as grid_sample
