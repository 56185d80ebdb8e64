"""A torch-facing model backed by ONNX Runtime, for the gallery, ``verify``/``identify`` and ``serve``.

:class:`OnnxModel` has the attributes the rest of siamkit reads from a model — ``embed`` on
``(N, C, H, W)`` tensors, ``distance`` / ``distance_name``, ``threshold``, ``embedding_dim``,
``input_shape`` and ``fingerprint`` — while the embedding runs in ONNX Runtime. Its fingerprint
is the one of the torch model it was exported from, so a gallery built with the torch model
opens with the ONNX one (and vice versa).

Example:
    >>> model = OnnxModel("runs/shoes/model")  # doctest: +SKIP
    >>> model.embed(torch.rand(2, 1, 28, 28)).shape  # doctest: +SKIP
    torch.Size([2, 64])
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor

from siamkit.distances import Distance, get_distance
from siamkit.export.runtime import OnnxEmbedder

__all__ = ["OnnxModel", "load_onnx_model"]


class OnnxModel:
    """Drop-in replacement for a loaded siamkit model when only embedding is needed (no training).

    Args:
        path: a ``.onnx`` export or a model folder holding one.
        providers, threads: passed to :class:`~siamkit.export.runtime.OnnxEmbedder`.
        precision: ``"fp32"`` or ``"int8"`` when ``path`` is a folder.

    ``embed`` returns a float32 CPU tensor; inputs on another device are moved to the CPU.
    ``model(a, b)`` gives the ``(N,)`` distances of pairs, like ``SiameseNetwork``.
    """

    kind = "onnx"

    def __init__(
        self,
        path: str | os.PathLike[str] | OnnxEmbedder,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        precision: str = "fp32",
    ) -> None:
        self.embedder = (
            path
            if isinstance(path, OnnxEmbedder)
            else OnnxEmbedder(path, providers=providers, threads=threads, precision=precision)
        )
        self.distance: Distance = get_distance(self.embedder.distance_name)
        self.threshold: float | None = self.embedder.threshold
        self.training = False

    @property
    def embedding_dim(self) -> int:
        return self.embedder.embedding_dim

    @property
    def distance_name(self) -> str:
        return self.distance.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.embedder.input_shape

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the torch model this was exported from (``model_fingerprint``)."""
        return self.embedder.fingerprint

    @property
    def precision(self) -> str:
        return self.embedder.precision

    @property
    def half_twin_branch(self) -> str | None:
        """The one branch (``"f"`` or ``"g"``) this file holds when it was exported from a
        half-twin (``task: half_twin``, ``siamkit export --branch``); None for other models."""
        info = self.embedder.info
        return (info.branch or "f") if info.model_kind == "half_twin" else None

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def embed(self, x: Tensor, check: bool = True) -> Tensor:
        """``(N, C, H, W)`` floats in ``[0, 1]`` -> ``(N, D)`` float32 embeddings (CPU tensor).

        Raises the same ``TypeError`` / ``ValueError`` as the torch model for bad input;
        ``check`` is accepted for compatibility (ONNX inputs are always checked).
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(
                f"expected floats in [0, 1], got dtype {x.dtype}; divide uint8 images by 255"
            )
        z = self.embedder.embed(x.detach().cpu().float().numpy())
        return torch.from_numpy(z)

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        """Distances between the pairs ``(a_i, b_i)``: ``(N, ...), (N, ...) -> (N,)``."""
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"pair batches differ in size: {a.shape[0]} and {b.shape[0]}")
        return self.distance.pairwise(self.embed(a), self.embed(b))

    forward = __call__

    def eval(self) -> OnnxModel:
        """No-op (an ONNX model is always in inference mode); returns ``self`` like ``nn.Module``."""
        return self

    def to(self, device: str | torch.device) -> OnnxModel:
        """Only the CPU is supported by this adapter; other devices raise ``ValueError``."""
        if torch.device(device).type != "cpu":
            raise ValueError(
                "OnnxModel runs on ONNX Runtime; choose the execution provider with providers=[...] "
                "instead of moving it to a torch device"
            )
        return self

    def __repr__(self) -> str:
        return f"OnnxModel({self.embedder!r})"


def load_onnx_model(
    path: str | os.PathLike[str],
    precision: str = "fp32",
    threads: int | None = None,
    providers: Sequence[str] | None = None,
) -> OnnxModel:
    """Open an exported model (a model folder or a ``.onnx`` file) for ``Gallery`` / ``serve``.

    >>> load_onnx_model("runs/shoes/model", precision="int8").precision  # doctest: +SKIP
    'int8'
    """
    return OnnxModel(path, providers=providers, threads=threads, precision=precision)
