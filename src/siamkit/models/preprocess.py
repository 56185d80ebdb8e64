"""Preprocessing stored with the model: input checks and normalisation (timm-style)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

# the float dtypes torch.isfinite reads; the float8s are checked as the float32 forward casts
# them to: isfinite raised "not implemented for 'Float8_e4m3fn'" (e4m3fnuz, e5m2fnuz) from check
# and called float8_e8m0fnu's NaN finite, so the model embedded it to NaN (s55_R4 finding 1)
_ISFINITE_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class Preprocess(nn.Module):
    """Check the input shape, then ``(x - mean) / std`` per channel (or per feature for vectors).

    ``input_shape`` is ``(C, H, W)`` for images, whose values are floats in ``[0, 1]``, or
    ``(F,)`` for feature vectors, of any float dtype (float64 from numpy is cast to the weights'
    dtype). ``mean`` / ``std`` have one value per channel (or one for all).
    When it is not given, the first ``(N, C, H, W)`` or ``(N, F)`` batch the model sees sets it
    (and :func:`siamkit.save_model` saves it), so a model built and trained in Python works with
    every command that reads image files.

    >>> p = Preprocess(mean=(0.5,), std=(0.5,), input_shape=(1, 4, 4))
    >>> p(torch.ones(2, 1, 4, 4)).max()
    tensor(1.)
    """

    mean: Tensor
    std: Tensor

    def __init__(
        self,
        mean: Sequence[float] = (0.0,),
        std: Sequence[float] = (1.0,),
        input_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        mean_t = torch.as_tensor(list(mean), dtype=torch.float32)
        std_t = torch.as_tensor(list(std), dtype=torch.float32)
        if (
            mean_t.dim() != 1
            or std_t.dim() != 1
            or mean_t.numel() < 1
            or std_t.numel() != mean_t.numel()
        ):
            raise ValueError(
                f"mean and std need the same non-zero length, got {list(mean)} and {list(std)}"
            )
        if bool((std_t <= 0).any()):
            raise ValueError(f"std must be positive, got {list(std)}")
        self.input_shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
        if self.input_shape is not None and (
            len(self.input_shape) not in (1, 3) or min(self.input_shape) < 1
        ):
            raise ValueError(
                f"input_shape is (C, H, W) for images or (F,) for vectors, got {input_shape}"
            )
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    @property
    def is_image(self) -> bool:
        """Whether inputs are ``(N, C, H, W)`` images (also before any batch set the shape), not vectors."""
        return self.input_shape is None or len(self.input_shape) == 3

    def check(self, x: Tensor) -> None:
        """Raise ``ValueError``/``TypeError`` naming the problem if ``x`` does not fit the model."""
        if isinstance(x, str) or (isinstance(x, (list, tuple)) and x and isinstance(x[0], str)):
            raise TypeError("this model embeds image or vector tensors, got text; use a text model")
        if not isinstance(x, Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(
                f"expected floats in [0, 1], got dtype {x.dtype}; divide uint8 images by 255"
            )
        if self.input_shape is None and x.dim() not in (2, 4):
            raise ValueError(
                f"expected a batch of images (N, C, H, W) or of vectors (N, F), got shape "
                f"{tuple(x.shape)}; add the missing dimension, e.g. x.unsqueeze(1) for "
                "one-channel (N, H, W) images"
            )
        if self.input_shape is not None:
            want = self.input_shape
            if x.dim() != len(want) + 1:
                layout = "(N, C, H, W)" if len(want) == 3 else "(N, F)"
                raise ValueError(
                    f"expected a batch shaped {layout} = (N, {', '.join(map(str, want))}), got {tuple(x.shape)}"
                )
            if len(want) == 3 and x.shape[1] != want[0]:
                from siamkit.data.image_io import batch_channels_last_problem

                problem = batch_channels_last_problem(tuple(x.shape), want)
                raise ValueError(
                    problem
                    or f"the model takes {want[0]}-channel images, got {x.shape[1]} channels"
                )
            if tuple(x.shape[1:]) != want:
                raise ValueError(
                    f"the model takes inputs of shape {want}, got {tuple(x.shape[1:])}; resize them first"
                )
        if not bool(torch.isfinite(x if x.dtype in _ISFINITE_FLOATS else x.float()).all()):
            raise ValueError("the input contains NaN or infinite values")

    def forward(self, x: Tensor) -> Tensor:
        if x.is_floating_point() and x.dtype != self.mean.dtype:
            x = x.to(self.mean.dtype)  # float64 from numpy (or float16) -> the weights' dtype
        if self.input_shape is None and x.dim() in (2, 4) and x.shape[0] > 0:
            self.input_shape = tuple(int(s) for s in x.shape[1:])  # learned from the first batch
        if x.dim() == 4:
            return (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)
        return (x - self.mean) / self.std

    def config(self) -> dict[str, Any]:
        """``mean``, ``std`` and ``input_shape`` as JSON-ready lists, as the model folder stores them."""
        return {
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
        }


class EncoderInputError(ValueError):
    """A batch whose channels or features are not the ones its encoder takes (a shape problem,
    unlike a ``ValueError`` about what an input shows, e.g. no face found)."""


def check_encoder_input(
    encoder: nn.Module, x: Tensor, input_shape: Sequence[int] | None = None
) -> None:
    """Raise an :class:`EncoderInputError` naming the problem if ``x`` has not the channels
    (``(N, C, H, W)``) or features (``(N, F)``) that ``encoder`` declares as ``in_channels`` /
    ``in_features``; an encoder that declares neither is not checked.

    ``input_shape`` is the model's recorded ``(C, H, W)``, if any: a batch of that shape (its
    :class:`Preprocess` took it) is channels-first by the model's own record, so a channel count
    the encoder does not take is named as such. Without it, ``(N, H, W, C)`` was guessed from
    the batch, and a config's ``input_shape`` [3, 28, 1] on a grayscale encoder (the bundle's
    dry run embeds a zero batch of that shape) was called channels-last, with a permute to do.
    """
    for dim, attr, what in (
        (4, "in_channels", "channel images"),
        (2, "in_features", "feature vectors"),
    ):
        want = getattr(encoder, attr, None)
        if x.dim() == dim and isinstance(want, int) and x.shape[1] != want:
            if dim == 4:  # the model's (H, W), else those of (N, H, W, C) pixels
                from siamkit.data.image_io import batch_channels_last_problem

                hw = tuple(x.shape[1:3])
                if input_shape is not None and len(input_shape) == 3:
                    hw = tuple(input_shape[1:])
                problem = batch_channels_last_problem(tuple(x.shape), (want, *hw))
                if problem is not None:
                    raise EncoderInputError(problem)
            raise EncoderInputError(
                f"the encoder takes {want}-{what}, got a batch shaped {tuple(x.shape)} "
                f"({x.shape[1]} {what.split()[0]}s)"
            )


def missing_input_shape_message(where: str = "this model") -> str:
    """What to do when a model never recorded the shape of its inputs (the line to write)."""
    return (
        f"{where} does not record the shape of the images it takes: it was saved before it saw "
        "any. Run one batch through it before saving (`net.embed(images)`, as training does), or "
        "build it with the shape, e.g. `siamkit.SiameseNetwork(enc, embedding_dim=64, "
        "preprocess=siamkit.Preprocess(input_shape=(1, 28, 28)))`, then `siamkit.save_model(net, "
        "PATH)` again"
    )


@contextmanager
def one_item_batch_named() -> Iterator[None]:
    """Say what to do when a batch of 1 meets batch norm in training mode, instead of torch's
    'Expected more than 1 value per channel when training' (the last batch of a DataLoader
    whose size leaves one item over, with the resnet or mlp encoder)."""
    try:
        yield
    except ValueError as e:
        if not str(e).startswith("Expected more than 1 value per channel when training"):
            raise
        raise ValueError(
            "a batch of 1 cannot pass the encoder's batch norm in training mode; drop the last "
            "batch (DataLoader(..., drop_last=True)) or call model.eval() before embedding one item"
        ) from None
