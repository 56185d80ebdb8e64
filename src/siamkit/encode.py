"""One way to turn many inputs into embeddings: :func:`encode`.

Used by validation, the evaluation, offline mining, galleries and the CLI. It embeds in batches
in eval mode without gradients (restoring the model's mode), scales uint8 images to ``[0, 1]``,
lays image batches out channels-last (faster convolutions), shows a progress bar on request,
and returns float32 embeddings on the CPU.

>>> z = encode(net, test_images, batch_size=256, device="cpu")  # doctest: +SKIP
>>> z.shape  # doctest: +SKIP
torch.Size([4000, 64])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from siamkit.model_protocol import EmbeddingModel
from siamkit.progress import track


def _embed_fn(
    model: EmbeddingModel | Callable[[Tensor], Tensor], check: bool
) -> Callable[[Tensor], Tensor]:
    embed = getattr(model, "embed", None)
    if embed is None:
        if not callable(model):
            raise TypeError(f"cannot encode with a {type(model).__name__}: it has no embed()")
        return model
    try:
        takes_check = "check" in inspect.signature(embed).parameters
    except (TypeError, ValueError):
        takes_check = False
    if takes_check and not check:  # inputs the library made itself: skip the model's checks
        return lambda x: embed(x, check=False)
    return embed  # type: ignore[no-any-return]


def _embed_batch(
    model: EmbeddingModel | Callable[[Tensor], Tensor],
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    check: bool,
) -> Tensor:
    """``fn(x)``; when that fails deep in torch with the model's checks off, the checks name the
    problem instead (a batch of other channels, a missing batch dimension), at no cost when
    nothing fails."""
    try:
        return fn(x)
    except torch.cuda.OutOfMemoryError:
        raise  # not the input's shape: running it again would not say more
    except (RuntimeError, ValueError, TypeError):
        if not check:
            try:
                _embed_fn(model, True)(x)
            except (ValueError, TypeError) as named:
                raise named from None
        raise


def _model_device(model: Any) -> torch.device | None:
    params = getattr(model, "parameters", None)
    if callable(params):
        for p in params():
            return p.device  # type: ignore[no-any-return]
    return None


@torch.no_grad()
def encode(
    model: EmbeddingModel | Callable[[Tensor], Tensor],
    inputs: Tensor | Iterable[Tensor],
    batch_size: int = 512,
    device: torch.device | str | None = None,
    progress: bool = False,
    check: bool = False,
    desc: str = "embedding",
) -> Tensor:
    """Embed ``inputs`` with ``model.embed`` (or ``model(x)`` for a plain function).

    Args:
        model: an :class:`~siamkit.model_protocol.EmbeddingModel`, or a function ``x -> z``.
        inputs: ``(N, ...)`` (uint8 images are scaled to ``[0, 1]``) or an iterable of batches.
        batch_size: items per forward pass (for a tensor).
        device: where to run (default: the model's parameters' device, else the inputs').
        progress: show a tqdm bar.
        check: let the model check each batch (shape, channels, range) and raise a clear error;
            for user input. Off for the library's own data.
        desc: what the progress lines say is embedded (``"embedding validation images"``).

    Returns:
        ``(N, D)`` float32 embeddings on the CPU.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if isinstance(inputs, Tensor):
        batches: Iterable[Tensor] = (
            inputs[i : i + batch_size] for i in range(0, len(inputs), batch_size)
        )
        total: int | None = -(-len(inputs) // batch_size)
    else:
        batches, total = inputs, None
    fn = _embed_fn(model, check)
    dev = torch.device(device) if device is not None else _model_device(model)
    was_training = getattr(model, "training", None)
    if was_training:
        model.eval()  # type: ignore[union-attr]
    try:
        out = []
        shown = (
            tqdm(batches, total=total, desc=desc, leave=False)
            if progress
            else track(batches, desc, total, "batches")  # silent unless turned on
        )
        for x in shown:
            x = x.float().div_(255.0) if x.dtype == torch.uint8 else x
            x = x.to(dev) if dev is not None else x
            if x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            out.append(_embed_batch(model, fn, x, check).float().cpu())
    finally:
        if was_training:
            model.train()  # type: ignore[union-attr]
    if not out:
        raise ValueError("there is nothing to embed: inputs is empty")
    return torch.cat(out)
