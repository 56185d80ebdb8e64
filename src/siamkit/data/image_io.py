"""Reading images from files or bytes and validating user image tensors.

Every image that enters siamkit goes through this module, so every caller (datasets, the gallery,
the service, the CLI) gets the same conventions: a ``(C, H, W)`` / ``(N, C, H, W)`` float32 tensor
with values in ``[0, 1]``, and a clear :class:`ImageReadError` / :class:`ValueError` for bad input.

Example:
    >>> from siamkit.data.image_io import load_images
    >>> batch = load_images(["a.png", "b.png"], input_shape=(1, 28, 28))  # doctest: +SKIP
    >>> batch.shape  # doctest: +SKIP
    torch.Size([2, 1, 28, 28])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from siamkit.clauses import counted, in_number, listed
from siamkit.distributed import is_main_process
from siamkit.image_decode import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    ImageSource,
    decode_image,
    image_mode,
)
from siamkit.progress import track

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageReadError",
    "ImageSource",
    "batch_channels_last_problem",
    "channels_last_problem",
    "load_images",
    "read_image",
    "read_image_resized",
    "resize_images",
    "to_image_batch",
]


def read_image(
    source: ImageSource, channels: int = 3, max_pixels: int = DEFAULT_MAX_PIXELS
) -> torch.Tensor:
    """Decode one image file or byte string into a float tensor.

    Args:
        source: a path or the raw bytes of an encoded image (any format Pillow reads).
        channels: 1 converts to grayscale (``L``), 3 to ``RGB``. Transparency is dropped.
        max_pixels: refuse images with more than this many pixels (width × height).

    Returns:
        ``(C, H, W)`` float32 tensor with values in ``[0, 1]``.

    Raises:
        ImageReadError: the file is missing, empty, not an image, truncated or too large.

    Example:
        >>> img = read_image("cat.png", channels=3)  # doctest: +SKIP
        >>> img.shape, img.dtype  # doctest: +SKIP
        (torch.Size([3, 64, 48]), torch.float32)
    """
    return _to_float_chw(decode_image(source, channels, max_pixels))


def _to_float_chw(array: np.ndarray) -> torch.Tensor:
    """An ``(H, W, C)`` uint8 array as a ``(C, H, W)`` float32 tensor in ``[0, 1]``."""
    return torch.from_numpy(array).permute(2, 0, 1).to(torch.float32).div_(255.0)


def read_image_resized(
    item: ImageSource, shape: tuple[int, int, int], max_pixels: int = DEFAULT_MAX_PIXELS
) -> torch.Tensor:
    """:func:`read_image` of ``item`` resized to ``shape = (C, H, W)``: a JPEG far larger than
    H×W (a 12-MP photo) is shrunk by libjpeg as it decodes (:func:`~siamkit.image_decode.draft_jpeg`,
    down to no less than twice H×W) before the same resize, several times faster. Training,
    ``siamkit embed``/``enroll``/``identify`` and the service's uploads all read an image to a
    model's input so, and get the same pixels."""
    c, h, w = shape
    img = _to_float_chw(decode_image(item, c, max_pixels, draft=(h, w)))
    return resize_images(img.unsqueeze(0), (h, w))[0]


def _put(out: torch.Tensor, i: int, image: torch.Tensor) -> None:
    """``out[i] = image`` (float in [0, 1]); a uint8 ``out`` holds it rounded to 0-255."""
    out[i] = image.mul(255.0).round_() if out.dtype == torch.uint8 else image


def _check_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.uint8):
        raise ValueError(
            f"dtype must be torch.float32 (values in [0, 1]) or torch.uint8 (0-255), got {dtype}."
        )
    return dtype


def resize_images(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a float batch ``(N, C, H, W)`` to ``size = (H', W')`` (bilinear with antialiasing).

    Returns the input unchanged when it already has that size; the result is clamped to ``[0, 1]``.

    Example:
        >>> resize_images(torch.rand(2, 1, 56, 56), (28, 28)).shape
        torch.Size([2, 1, 28, 28])
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    antialias = x.shape[-2] > size[0] or x.shape[-1] > size[1]
    out = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)
    return out.clamp_(0.0, 1.0)


def _check_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or any(s <= 0 for s in shape):
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}.")
    image_mode(shape[0])  # ValueError unless 1 or 3 channels
    return shape  # type: ignore[return-value]


def load_images(
    items: Sequence[ImageSource],
    input_shape: Sequence[int],
    max_pixels: int = DEFAULT_MAX_PIXELS,
    folder: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Read images and resize them to one batch.

    A JPEG much larger than the batch's H×W (a phone photo) is shrunk by the JPEG decoder
    itself, to no less than twice H×W, before the resize: a 12-MP photo for a 64×64 input
    reads about 5 times faster, within about 0.1/255 on average of a full decode and resize.

    Args:
        items: paths or byte strings.
        input_shape: ``(C, H, W)`` of the model input; C is 1 or 3.
        max_pixels: per-image size guard, see :func:`read_image`.
        folder: the setting that named the folder the paths were found in (``"data.root"``):
            an unreadable file is then said to be in it (``data.root holds an unreadable image
            photos/a/x.jpg: remove or fix it``), not as item i of n of a list the user gave;
            every file is read first, so one sentence names all the unreadable ones (a folder
            of thousands of photos is not refused once per bad file), and the reading shows
            progress (:mod:`siamkit.progress`).
        dtype: ``torch.float32`` (values in ``[0, 1]``) or ``torch.uint8`` (0-255, each value
            rounded): a quarter of the memory, for a whole folder held while training (a run
            scales each batch to ``[0, 1]``). A folder's uint8 images read inside
            :func:`~siamkit.data.folder_cache.image_cache` (``data.cache``) come from its cache
            when the files are the same as when it was made, and are written to it otherwise.

    Returns:
        ``(N, C, H, W)`` float32 tensor in ``[0, 1]``, or uint8 with ``dtype=torch.uint8``.

    Raises:
        ImageReadError: naming the first file that could not be read (with ``folder``: every
            one).

    Example:
        >>> load_images(["a.png", "b.jpg"], (3, 64, 64)).shape  # doctest: +SKIP
        torch.Size([2, 3, 64, 64])
    """
    shape = _check_shape(input_shape)
    if isinstance(items, (str, bytes, bytearray, memoryview, os.PathLike)):  # one ImageSource
        items = [items]
    out_shape = (len(items), *shape)
    if folder is not None and _check_dtype(dtype) == torch.uint8 and _all_paths(items):
        from siamkit.data.folder_cache import cache_active, cached_images

        if cache_active() and len(items):  # data.cache: the decoded folder kept (a --resume)
            paths, where = items, folder

            def read() -> torch.Tensor:
                out = torch.empty(out_shape, dtype=torch.uint8)
                return _load_folder(paths, out, max_pixels, where)

            return cached_images(paths, shape, folder, read)  # type: ignore[arg-type]
    out = torch.empty(out_shape, dtype=_check_dtype(dtype))
    if folder is not None:
        return _load_folder(items, out, max_pixels, folder)
    for i, item in enumerate(items):
        try:
            img = read_image_resized(item, shape, max_pixels)
        except ImageReadError as exc:
            if len(items) == 1:  # its sentence names it; "item 1 of 1" would not be its place
                raise  # (a dataset's item 3 read alone was said to be "Item 1 of 1")
            raise ImageReadError(f"Item {i + 1} of {len(items)}: {exc}", exc.reason) from exc
        _put(out, i, img)
    return out


def _all_paths(items: Sequence[ImageSource]) -> bool:
    """Whether ``items`` are all file paths (what a folder cache can fingerprint)."""
    return all(isinstance(item, (str, os.PathLike)) for item in items)


def _load_folder(
    items: Sequence[ImageSource], out: torch.Tensor, max_pixels: int, folder: str
) -> torch.Tensor:
    """:func:`load_images` of the files found under the folder the setting ``folder`` names,
    into ``out`` ``(N, C, H, W)``: all read, with progress, before one sentence names every
    unreadable one."""
    shape = (int(out.shape[1]), int(out.shape[2]), int(out.shape[3]))
    bad: list[tuple[str, ImageReadError]] = []
    shown = is_main_process()  # under torchrun, the first process alone says it
    read = track(items, f"reading the images of {folder}", unit="images") if shown else items
    for i, item in enumerate(read):
        try:
            img = read_image_resized(item, shape, max_pixels)
        except ImageReadError as exc:
            if not isinstance(item, (str, os.PathLike)):
                raise ImageReadError(f"Item {i + 1} of {len(items)}: {exc}", exc.reason) from exc
            bad.append((os.fspath(item), exc))
        else:
            _put(out, i, img)
    if len(bad) == 1:
        raise ImageReadError(
            f"{folder} holds an unreadable image {bad[0][0]}: remove or fix it", bad[0][1].reason
        )
    if bad:
        raise ImageReadError(
            f"{folder} holds {len(bad):,} unreadable images, {unreadable_list(bad)}: remove or "
            "fix them"
        )
    return out


def unreadable_list(bad: Sequence[tuple[str, ImageReadError]], shown: int = 10) -> str:
    """The unreadable files ``bad`` (name, error) with what is wrong with each, for one
    sentence that names them all: ``a.jpg (corrupt or truncated) and b.jpg (not an image)``;
    past ``shown`` of them the rest are counted (``... j.jpg (empty) and 30 more``).

    >>> unreadable_list([("a.jpg", ImageReadError("", "empty")), ("b", ImageReadError("x"))])
    'a.jpg (empty) and b (unreadable)'
    """
    named = [f"{name} ({err.reason})" for name, err in bad[:shown]]
    rest = len(bad) - len(named)
    return listed([*named, f"{rest:,} more"] if rest else named)


def _as_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype == object or not (
            np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)
        ):
            raise TypeError(f"Images must be a numeric array, got dtype {x.dtype}.")
        return torch.from_numpy(np.ascontiguousarray(x))
    raise TypeError(f"Images must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}.")


def _to_float01(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    if not x.is_floating_point():
        raise TypeError(
            f"Images must be uint8 (0-255) or float in [0, 1], got dtype {x.dtype}; "
            "convert with .astype(np.uint8) / .to(torch.uint8) or to float."
        )
    x = x.to(torch.float32)
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        said = counted(bad, "NaN or infinite value")
        raise ValueError(f"Images contain {said}; clean the input first.")
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(
            f"Float images must have values in [0, 1], got range [{float(x.min()):.4g}, "
            f"{float(x.max()):.4g}]; pass uint8 0-255 data or divide by 255."
        )
    return x


def _to_nchw(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.ndim == 4:
        return x
    if x.ndim == 3:
        if x.shape[0] == channels:
            return x.unsqueeze(0)  # one (C, H, W) image
        if channels == 1:
            return x.unsqueeze(1)  # (N, H, W) grayscale batch
        raise ValueError(
            f"Expected {channels} channels (a (C, H, W) image or (N, C, H, W) batch), "
            f"got a 3-D tensor of shape {tuple(x.shape)}."
        )
    if x.ndim == 2 and channels == 1:
        return x[None, None]
    raise ValueError(
        f"Images must be (N, C, H, W) or (C, H, W)"
        f"{' or (N, H, W)' if channels == 1 else ''}, got shape {tuple(x.shape)}."
    )


def channels_last_problem(shape: tuple[int, ...], channels: int) -> str:
    """The one sentence refusing images of ``shape`` whose channels come last (``(H, W, C)``,
    ``(N, H, W, C)``: what PIL, OpenCV and ``np.asarray(image)`` give) for a model or data set
    of ``channels`` (1 or 3); ``shape[-1]`` is 1, 3 or 4. :func:`to_image_batch` and
    :class:`~siamkit.data.tensor_dataset.TensorImageDataset` both refuse with it: they once said
    it in their own words, and only the latter had the RGBA fix (reviewer s53_FB finding 4).
    The torch-free ONNX runtime, which imports nothing of siamkit, refuses with a copy of it
    (``siamkit.export.runtime._channels_last_problem``, and of
    :func:`batch_channels_last_problem`) that a test holds equal.

    Its expressions are whole: evaluated on the array as written they give images that are
    taken as they are meant, for a tensor and for a NumPy array (the tests run them). An RGBA
    array drops its alpha before the reorder, ``x[..., :3].permute(...)`` (reordered first, the
    ``[..., :3]`` cut the width to 3: reviewer s53_R6 finding 6); a grayscale array for an RGB
    model repeats its channel; a colour array for a grayscale model is converted as Pillow's
    ``convert('L')`` does, and as ``(H, W)`` / ``(N, H, W)`` needs no reorder.

    Example:
        >>> channels_last_problem((2, 8, 8, 4), 3).split(": ")[1]
        'drop the alpha channel and reorder them with x[..., :3].permute(0, 3, 1, 2) (a tensor) or x[..., :3].transpose(0, 3, 1, 2) (a NumPy array).'
    """
    last, one = shape[-1], len(shape) == 3
    dims, first = ("(H, W, C)", "(C, H, W)") if one else ("(N, H, W, C)", "(N, C, H, W)")
    head = (
        f"Images of shape {shape} have their {counted(last, 'channel')} "
        f"last, {dims}, and siamkit takes "
        f"them first, {first}"
    )
    if channels == 1 and last != 1:
        return (
            f"{head}: convert each image to grayscale, as PIL's image.convert('L') does"
            f"{' (dropping the alpha)' if last == 4 else ''}; grayscale images, "
            f"{'(H, W)' if one else '(N, H, W)'}, need no reorder."
        )
    order = "(2, 0, 1)" if one else "(0, 3, 1, 2)"
    x = "x[..., :3]" if last == 4 else "x"
    tensor, array = f"{x}.permute{order}", f"{x}.transpose{order}"
    steps = ["drop the alpha channel"] if last == 4 else []
    if channels == 3 and last == 1:
        steps.append("repeat their one channel as R, G and B")
        tensor += ".expand(3, -1, -1)" if one else ".expand(-1, 3, -1, -1)"
        array += f".repeat(3, axis={0 if one else 1})"
    steps.append("reorder them")
    return f"{head}: {listed(steps)} with {tensor} (a tensor) or {array} (a NumPy array)."


def batch_channels_last_problem(shape: tuple[int, ...], input_shape: Sequence[int]) -> str | None:
    """The sentence refusing a batch of ``shape`` given to a model's ``embed`` (which takes
    ``(N, C, H, W)`` batches only, :class:`~siamkit.models.Preprocess`, and the ONNX runtime's
    copy of this) for ``input_shape = (C, H, W)`` when its channels come last, ``(N, H, W, C)``,
    as :func:`to_image_batch` tells it: its second size is not the model's channel count, and
    its last is, or is another channel count (1, 3 or 4) that is not the model's width. ``None``
    for any other batch, and for one whose last two sizes are the model's ``(H, W)``: that is a
    channels-first batch with another channel count (a ``(2, 1, 28, 3)`` batch for a
    ``(3, 28, 3)`` model was called channels-last, and the permute advised was refused in turn,
    reviewer s55_R4 finding 2). Both said "the model takes 3-channel images, got 32 channels" of
    a ``(N, 32, 32, 3)`` batch (reviewer s54_FB finding 3). It is
    :func:`channels_last_problem`'s sentence; for a grayscale model given colour, the converted
    ``(N, H, W)`` images take an axis too.

    Example:
        >>> batch_channels_last_problem((2, 32, 32, 3), (3, 32, 32)).split(": ")[1]
        'reorder them with x.permute(0, 3, 1, 2) (a tensor) or x.transpose(0, 3, 1, 2) (a NumPy array).'
        >>> batch_channels_last_problem((2, 3, 32, 32), (3, 32, 32)) is None
        True
    """
    if len(shape) != 4 or len(input_shape) != 3:
        return None
    channels, width = input_shape[0], input_shape[2]
    if channels not in (1, 3) or shape[1] == channels:
        return None
    if tuple(shape[2:]) == tuple(input_shape[1:]):  # the model's H and W where channels-first
        return None  # puts them: another channel count, not channels last
    if not (shape[-1] == channels or (shape[-1] in (1, 3, 4) and shape[-1] != width)):
        return None
    problem = channels_last_problem(shape, channels)
    if channels == 1 and shape[-1] != 1:  # converted to grayscale, they are (N, H, W)
        problem = f"{problem[:-1]}; the model takes them as (N, 1, H, W): x[:, None]."
    return problem


def _refuse_channels_last(x: torch.Tensor, channels: int, width: int) -> None:
    """Refuse images whose channels come last (``(H, W, C)``, ``(N, H, W, C)``: what PIL,
    OpenCV and ``np.asarray(image)`` give), with :func:`channels_last_problem`: read as
    channels first, a grayscale ``(H, W, 1)`` image was taken for H images of W×1 pixels, which
    ``resize=True`` stretched to H images of stripes, and the others were refused for their
    size or channel count, with advice (resize them, convert to RGB) that does not help. An RGB
    or RGBA array given to a model of another channel count (``np.asarray`` of an RGB photo for
    a grayscale model) is one too: its last size is 1, 3 or 4 (a channel count), not the model's
    width, while its first size is not the model's channel count, which a channels-first
    image's is."""
    shape = tuple(x.shape)
    if x.ndim not in (3, 4):
        return
    first, last = shape[1] if x.ndim == 4 else shape[0], shape[-1]
    if first == channels or not (last == channels or (last in (1, 3, 4) and last != width)):
        return
    if x.ndim == 3 and channels == 1 and last == width:
        return  # an (N, H, W) grayscale batch as wide as the model's images (W of 1, 3, 4)
    problem = channels_last_problem(shape, channels)
    if x.ndim == 3 and channels == 1:  # (N, H, W) is a grayscale batch too
        problem = (
            f"{problem[:-1]}; {counted(shape[0], 'grayscale image')} {counted(last, 'pixel')} "
            f"wide {in_number(shape[0], 'is', 'are')} read as this too: resize them to the "
            f"model's width, {width}, first."
        )
    raise ValueError(problem)


def to_image_batch(x: Any, input_shape: Sequence[int], resize: bool = False) -> torch.Tensor:
    """Validate user images and return an ``(N, C, H, W)`` float32 batch in ``[0, 1]``.

    Accepts a tensor or ndarray of shape ``(N, C, H, W)``, ``(C, H, W)``, or for one channel also
    ``(N, H, W)`` / ``(H, W)``; dtype ``uint8`` (divided by 255) or float already in ``[0, 1]``.
    The device is preserved.

    Args:
        x: the images.
        input_shape: expected ``(C, H, W)``.
        resize: resize other spatial sizes to ``(H, W)`` instead of raising.

    Raises:
        ValueError: wrong channel count, channels last (``(H, W, C)``), wrong size, NaN/inf, or
            values outside ``[0, 1]``.
        TypeError: not a tensor/ndarray, or an unsupported dtype.

    Example:
        >>> to_image_batch(np.zeros((5, 28, 28), dtype=np.uint8), (1, 28, 28)).shape
        torch.Size([5, 1, 28, 28])
    """
    c, h, w = _check_shape(input_shape)
    x = _as_tensor(x)
    _refuse_channels_last(x, c, w)
    x = _to_nchw(x, c)
    if x.shape[1] != c:
        raise ValueError(
            f"Expected images with {counted(c, 'channel')}, got {x.shape[1]} (shape "
            f"{tuple(x.shape)}); "
            f"convert to {'grayscale' if c == 1 else 'RGB'} first."
        )
    if x.shape[0] == 0:
        raise ValueError("Got an empty batch of images (N = 0).")
    x = _to_float01(x)
    if tuple(x.shape[2:]) != (h, w):
        if not resize:
            raise ValueError(
                f"Expected images of size {h}x{w} (H x W), got {x.shape[2]}x{x.shape[3]}; "
                "resize them or pass resize=True."
            )
        x = resize_images(x, (h, w))
    return x.contiguous()
