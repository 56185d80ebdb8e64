"""What the library needs of a model: the :class:`EmbeddingModel` protocol.

Any object with these members can be encoded, indexed, evaluated and served, whatever its class
(:class:`~siamkit.models.SiameseNetwork`, a half-twin branch, an ONNX embedder, an application's
model). Code asks ``isinstance(model, EmbeddingModel)`` instead of probing attributes one by one.

>>> isinstance(siamkit.SiameseNetwork(siamkit.encoders.create_encoder("mlp", in_features=4), 8), EmbeddingModel)  # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class EmbeddingModel(Protocol):
    """``embed(x (N, ...)) -> (N, embedding_dim)``, compared with ``distance``.

    Attributes:
        embedding_dim: size of the embeddings.
        distance: the distance embeddings are compared with (a name or a ``Distance``).
        input_shape: one input's shape, ``(C, H, W)`` or ``(F,)``; ``None`` if not fixed.
    """

    @property
    def embedding_dim(self) -> int: ...

    @property
    def distance(self) -> Any: ...

    @property
    def input_shape(self) -> tuple[int, ...] | None: ...

    def embed(self, x: Tensor) -> Tensor: ...
