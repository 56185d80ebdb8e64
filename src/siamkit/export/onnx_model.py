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
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor

from siamkit.distances import Distance, get_distance
from siamkit.export.runtime import OnnxEmbedder
from siamkit.models.preprocess import Preprocess
from siamkit.models.siamese import pair_sizes_message

__all__ = ["OnnxModel", "load_onnx_model"]


class OnnxModel:
    """Drop-in replacement for a loaded siamkit model when only embedding is needed (no training).

    Args:
        path: a ``.onnx`` export or a model folder holding one.
        providers, threads: passed to :class:`~siamkit.export.runtime.OnnxEmbedder`.
        precision: ``"fp32"`` or ``"int8"`` when ``path`` is a folder.

    ``embed`` returns a float32 CPU tensor; inputs on another device are moved to the CPU.
    ``model(a, b)`` gives the ``(N,)`` distances of pairs, like ``SiameseNetwork``.

    A half-twin's export of both branches (``siamkit export``: branch f's file names branch g's,
    ``model.document.onnx``, beside it) opens both: the model then has the half-twin's
    interface (``kind == "half_twin"``, ``preprocess_f`` / ``preprocess_g`` with each branch's
    input shape, ``embed(x, branch="g")``), so a gallery or the service embeds what is searched
    with f's graph and what is enrolled with g's, each at its own input size.
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
        # a half-twin's branch g (what is enrolled), exported beside branch f: None otherwise
        self.document: OnnxEmbedder | None = _document_embedder(
            self.embedder, providers=providers, threads=threads
        )
        if self.document is not None:  # the half-twin's interface (role_tower, the service)
            self.kind = "half_twin"
            self.preprocess_f = _recorded_preprocess(self.embedder)
            self.preprocess_g = _recorded_preprocess(self.document)

    @property
    def embedding_dim(self) -> int:
        """Size ``D`` of the ``(N, D)`` embeddings :meth:`embed` returns."""
        return self.embedder.embedding_dim

    @property
    def distance_name(self) -> str:
        """The name of the distance pairs are scored with."""
        return self.distance.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One input's shape without the batch dimension, e.g. ``(1, 28, 28)``."""
        return self.embedder.input_shape

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the torch model this was exported from (``model_fingerprint``)."""
        return self.embedder.fingerprint

    @property
    def precision(self) -> str:
        """The export's weights: ``"fp32"``, or ``"int8"`` (quantised)."""
        return self.embedder.precision

    @property
    def half_twin_branch(self) -> str | None:
        """The one branch (``"f"`` or ``"g"``) this file holds when it was exported from a
        half-twin (two towers: trained with ``task: half_twin``, or a HalfTwinNetwork saved in
        Python) without the other (``siamkit export --branch``, or an export before both
        branches went out); None for other models and for an export of
        both branches."""
        info = self.embedder.info
        if info.model_kind != "half_twin" or self.document is not None:
            return None
        return info.branch or "f"

    def parameters(self) -> Iterator[torch.nn.Parameter]:
        """No torch parameters: the graphs run in ONNX Runtime (``encode`` leaves inputs where
        they are, as for a model without parameters)."""
        return iter(())

    @property
    def device(self) -> torch.device:
        """The CPU: :meth:`embed` returns CPU tensors, whichever provider runs the model."""
        return torch.device("cpu")

    def embed(self, x: Tensor, check: bool = True, branch: str = "f") -> Tensor:
        """``(N, C, H, W)`` floats in ``[0, 1]`` -> ``(N, D)`` float32 embeddings (CPU tensor).

        ``branch="g"``: a half-twin's branch g graph (what is enrolled), at its own input size,
        as ``HalfTwinNetwork.embed(x, branch="g")``. Raises the same ``TypeError`` /
        ``ValueError`` as the torch model for bad input; ``check`` is accepted for
        compatibility (ONNX inputs are always checked).
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(
                f"expected floats in [0, 1], got dtype {x.dtype}; divide uint8 images by 255"
            )
        if branch not in ("f", "g"):
            raise ValueError(f"branch is 'f' or 'g', got {branch!r}")
        if branch == "g" and self.document is None:
            raise ValueError(
                f"{self.embedder.path} holds no branch g graph (only half-twin exports of both "
                "branches do); embed with branch='f'"
            )
        graph = self.document if branch == "g" and self.document is not None else self.embedder
        return torch.from_numpy(graph.embed(x.detach().cpu().float().numpy()))

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        """Distances between the pairs ``(a_i, b_i)``: ``(N, ...), (N, ...) -> (N,)`` (a
        half-twin's: ``a`` through branch f, ``b`` through branch g, as it trained)."""
        if a.shape[0] != b.shape[0]:
            raise ValueError(pair_sizes_message(a.shape[0], b.shape[0]))
        second = "g" if self.document is not None else "f"
        return self.distance.pairwise(self.embed(a), self.embed(b, branch=second))

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


def _document_embedder(
    query: OnnxEmbedder, providers: Sequence[str] | None, threads: int | None
) -> OnnxEmbedder | None:
    """Branch g's graph named by a half-twin's branch f file (None when it names none), refused
    unless it is the same export's: branch g, same model, precision and embedding."""
    info = query.info
    if info.model_kind != "half_twin" or not info.document_graph:
        return None
    path = Path(query.path).parent / info.document_graph
    again = f"export the model again with `siamkit export {_model_folder(query)} --format onnx"
    again += " --int8 --force`" if info.precision == "int8" else " --force`"
    if not path.is_file():
        raise ValueError(
            f"{query.path} is branch f of a half-twin whose branch g graph {path.name} is not "
            f"beside it; {again}"
        )
    doc = OnnxEmbedder(path, providers=providers, threads=threads)
    same = (doc.info.model_kind, doc.info.branch, doc.fingerprint, doc.precision) == (
        "half_twin",
        "g",
        query.fingerprint,
        query.precision,
    ) and (doc.embedding_dim, doc.distance_name) == (query.embedding_dim, query.distance_name)
    if not same:
        raise ValueError(
            f"{path} is not branch g of the same half-twin export as {query.path} (another "
            f"model, branch or precision); {again}"
        )
    return doc


def _model_folder(query: OnnxEmbedder) -> str:
    """The model folder an export sits in (it holds siamkit.json), else a placeholder."""
    folder = Path(query.path).parent
    return str(folder) if (folder / "siamkit.json").is_file() else "MODEL"


def _recorded_preprocess(graph: OnnxEmbedder) -> Preprocess:
    """The preprocessing a graph records (folded into it): what a branch's ``preprocess_f`` /
    ``preprocess_g`` says of its inputs, never applied again."""
    info = graph.info
    return Preprocess(mean=info.mean, std=info.std, input_shape=info.input_shape)


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
