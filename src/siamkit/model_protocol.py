"""What the library needs of a model: the :class:`EmbeddingModel` protocol.

Any object with these members can be encoded, indexed, evaluated and served, whatever its class
(:class:`~siamkit.models.SiameseNetwork`, a half-twin branch, an ONNX embedder, an application's
model). Code asks ``isinstance(model, EmbeddingModel)`` instead of probing attributes one by one,
or calls :func:`as_embedding_model`, whose ``TypeError`` names the members an object lacks.
``isinstance`` asks ``hasattr`` for each member on every Python version (3.12's own check misses
an ``nn.Module``'s submodules, such as a learned distance).

>>> import siamkit
>>> isinstance(siamkit.SiameseNetwork(siamkit.encoders.create_encoder("mlp", in_features=4), 8), EmbeddingModel)
True
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor

_ProtocolMeta: type = type(Protocol)


class _MembersMeta(_ProtocolMeta):  # type: ignore[misc,valid-type]
    """``isinstance`` by ``hasattr`` on every protocol member, on every Python.

    From Python 3.12, ``isinstance`` against a runtime-checkable protocol looks members up with
    ``inspect.getattr_static``, which does not see what ``nn.Module.__getattr__`` serves: a
    network whose ``distance`` is a learned submodule (Mahalanobis, an MLP head) was "not a
    siamkit model" there, and "it has no " named nothing, since ``hasattr`` finds every member.
    """

    def __instancecheck__(cls, obj: object) -> bool:
        members = getattr(cls, "__protocol_attrs__", None) or _members(cls)
        return all(hasattr(obj, m) for m in members)


def _members(cls: type) -> set[str]:
    """The members a protocol class declares, its protocol bases' too (Python < 3.12 keeps no
    ``__protocol_attrs__``)."""
    names: set[str] = set()
    for base in cls.__mro__:
        if base.__name__ in ("Protocol", "Generic", "object"):
            continue
        names.update(
            n
            for n in (*base.__dict__, *getattr(base, "__annotations__", {}))
            if not n.startswith("_")
        )
    return names


@runtime_checkable
class EmbeddingModel(Protocol, metaclass=_MembersMeta):
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


@runtime_checkable
class ScoringModel(EmbeddingModel, Protocol):
    """An :class:`EmbeddingModel` that scores pairs with another distance than it trains with:
    ``scoring_distance`` (e.g. a cohort-normalised one); galleries and verification use it."""

    @property
    def scoring_distance(self) -> Any: ...


#: The members of :class:`EmbeddingModel`, in the order an error names them.
MEMBERS = ("embed", "embedding_dim", "distance", "input_shape")


def as_embedding_model(obj: object) -> EmbeddingModel:
    """``obj`` itself if it is an :class:`EmbeddingModel`; else a ``TypeError`` naming what it lacks.

    >>> as_embedding_model(object())
    Traceback (most recent call last):
    ...
    TypeError: object is not a siamkit model: it has no embed, embedding_dim, distance, input_shape (the EmbeddingModel protocol: embed, embedding_dim, distance, input_shape)
    """
    if isinstance(obj, EmbeddingModel):
        return obj
    missing = [m for m in MEMBERS if not hasattr(obj, m)]
    raise TypeError(
        f"{type(obj).__name__} is not a siamkit model: it has no {', '.join(missing)} "
        f"(the EmbeddingModel protocol: {', '.join(MEMBERS)})"
    )
