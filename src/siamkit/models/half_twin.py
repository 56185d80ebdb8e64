"""Half-twin networks (seed 003): two different encoders f and g into one embedding space."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parameter import is_lazy

from siamkit.distances import Distance, get_distance
from siamkit.encoders import create_encoder, encoder_spec  # noqa: F401  (the doctests use it)
from siamkit.encoders.registry import rebuild_encoder
from siamkit.heads import EmbeddingHead
from siamkit.models.preprocess import Preprocess, check_encoder_input, one_item_batch_named
from siamkit.models.siamese import (
    distance_config,
    distance_from_config,
    num_features,
    pair_sizes_message,
)


def _saved_tensors(values: Iterable[object]) -> list[Tensor]:
    """The tensors among a state dict's values, those in tuples and lists too: a quantized
    layer saves its dtype (a ``torch.dtype``) and its unpacked weight and bias (a tuple)."""
    found: list[Tensor] = []
    for v in values:
        if isinstance(v, Tensor):
            found.append(v)
        elif isinstance(v, (tuple, list)):
            found.extend(_saved_tensors(v))
    return found


def _modules_with_state(tower: nn.Module) -> set[int]:
    """The ids of a tower's modules that save state of their own (parameters, persistent
    buffers, or a ``_save_to_state_dict`` of their own, as packed quantized weights): one
    such module in both towers is shared even where its state dict makes tensors anew."""
    held: set[int] = set()
    for m in tower.modules():
        own: dict[str, Any] = {}
        m._save_to_state_dict(own, "", True)
        if own:
            held.add(id(m))
    return held


def _saved_extents(tensors: Iterable[Tensor]) -> tuple[set[int], list[tuple[str, int, int]]]:
    """Of the tensors a saved model keeps (a module's state dict), for :func:`_share_weights`:
    the ids of those with no memory to compare (lazy, meta, sparse or otherwise unreadable
    storage) and the ``(device, first byte, end byte)`` each other one spans in memory."""
    ids: set[int] = set()
    spans: list[tuple[str, int, int]] = []
    for t in tensors:
        if is_lazy(t) or t.is_meta or t.layout != torch.strided:
            ids.add(id(t))
            continue
        if not t.numel():
            continue
        try:
            base = t.untyped_storage().data_ptr()
        except (RuntimeError, NotImplementedError):  # e.g. a tensor subclass without storage
            ids.add(id(t))
            continue
        start = base + int(t.storage_offset()) * t.element_size()
        extent = 1 + sum((int(n) - 1) * int(s) for n, s in zip(t.shape, t.stride()))  # elements
        spans.append((str(t.device), start, start + extent * t.element_size()))
    return ids, spans


def _share_weights(f: nn.Module, g: nn.Module) -> bool:
    """Whether two towers keep a tensor in common: the same one (one encoder twice, a layer in
    common) or two over overlapping memory, which safetensors refuses to save ("Some tensors
    share memory"). Tensors over disjoint parts of one tensor (slices of one pretrained matrix)
    save and train apart, so they are not shared; tensors with no memory to compare (lazy, meta,
    sparse) are shared only when they are the same tensor. A module with saved state in both
    towers is shared too, as its tensors may be made anew on each call (quantized weights)."""
    if _modules_with_state(f) & _modules_with_state(g):  # e.g. one quantized tower twice
        return True
    kept_f = _saved_tensors(f.state_dict(keep_vars=True).values())  # held: no reuse
    kept_g = _saved_tensors(g.state_dict(keep_vars=True).values())
    ids_f, spans_f = _saved_extents(kept_f)
    ids_g, spans_g = _saved_extents(kept_g)
    if ids_f & ids_g:
        return True
    for device, start, end in spans_f:  # g's spans are few hundred at most: a scan is enough
        if any(d == device and s < end and start < e for d, s, e in spans_g):
            return True
    return False


class HalfTwinNetwork(nn.Module):
    """``delta(f(x), g(y))`` with unshared weights, for inputs of different kinds (e.g. a sketch and a photo,
    a query text and a document vector).

    >>> import torch
    >>> f = create_encoder("mlp", in_features=8, hidden=(16,))
    >>> g = create_encoder("mlp", in_features=5, hidden=(16,))
    >>> HalfTwinNetwork(f, g, embedding_dim=4)(torch.randn(3, 8), torch.randn(3, 5)).shape
    torch.Size([3])
    """

    kind = "half_twin"

    def __init__(
        self,
        encoder_f: nn.Module,
        encoder_g: nn.Module,
        embedding_dim: int = 64,
        distance: str | Distance = "euclidean",
        head_hidden: Sequence[int] = (),
        normalize: bool = True,
        preprocess_f: Preprocess | None = None,
        preprocess_g: Preprocess | None = None,
    ) -> None:
        super().__init__()
        if _share_weights(encoder_f, encoder_g):  # e.g. one encoder twice
            raise ValueError(
                "encoder_f and encoder_g share weights (the same encoder, or layers in common), "
                "but a half-twin's towers are unshared, and a saved model keeps each tower's "
                "own; create the second encoder with create_encoder again, or use "
                "SiameseNetwork for one encoder shared by both inputs"
            )
        self.encoder_f, self.encoder_g = encoder_f, encoder_g
        self.head_f = EmbeddingHead(num_features(encoder_f), embedding_dim, head_hidden, normalize)
        self.head_g = EmbeddingHead(num_features(encoder_g), embedding_dim, head_hidden, normalize)
        self.preprocess_f = preprocess_f if preprocess_f is not None else Preprocess()
        self.preprocess_g = preprocess_g if preprocess_g is not None else Preprocess()
        self.distance: Distance = get_distance(distance)
        self.threshold: float | None = None

    @property
    def embedding_dim(self) -> int:
        """Size of the embeddings both branches return."""
        return self.head_f.embedding_dim

    @property
    def distance_name(self) -> str:
        """The name of the distance between an f and a g embedding (e.g. ``"euclidean"``)."""
        return self.distance.name

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """Branch f's input shape without the batch dimension, ``None`` before it has seen a batch."""
        return self.preprocess_f.input_shape

    def embed_f(self, x: Tensor, check: bool = True) -> Tensor:
        """Embed inputs of the first kind. ``(N, ...) -> (N, D)``."""
        if check:
            self._refuse_other_kind(x, "f")
            self.preprocess_f.check(x)
            check_encoder_input(self.encoder_f, x, self.preprocess_f.input_shape)
        with one_item_batch_named():
            return self.head_f(self.encoder_f(self.preprocess_f(x)))

    def embed_g(self, y: Tensor, check: bool = True) -> Tensor:
        """Embed inputs of the second kind. ``(N, ...) -> (N, D)``."""
        if check:
            self._refuse_other_kind(y, "g")
            self.preprocess_g.check(y)
            check_encoder_input(self.encoder_g, y, self.preprocess_g.input_shape)
        with one_item_batch_named():
            return self.head_g(self.encoder_g(self.preprocess_g(y)))

    def _refuse_other_kind(self, x: Tensor, branch: str) -> None:
        """Refuse a batch shaped as the other branch's inputs (not as this one's), naming both
        branches: for a half-twin, "resize them first" would feed a sketch to the photo tower."""
        own, other = (self.preprocess_f, self.preprocess_g)[:: 1 if branch == "f" else -1]
        shape = tuple(x.shape[1:])
        if own.input_shape is None or other.input_shape is None:
            return
        if shape == tuple(own.input_shape) or shape != tuple(other.input_shape):
            return
        roles = {
            "f": "the first kind of input, what is searched with",
            "g": "the second kind, what is enrolled and compared against",
        }
        theirs = "g" if branch == "f" else "f"
        raise ValueError(
            f"branch {branch} ({roles[branch]}) takes inputs of shape {tuple(own.input_shape)}, "
            f"got {shape}, the shape of branch {theirs}'s inputs ({roles[theirs]}): give inputs "
            f"of the {'first' if branch == 'f' else 'second'} kind here"
        )

    def embed(self, x: Tensor, branch: str = "f", check: bool = True) -> Tensor:
        """Embed with branch ``"f"`` (default) or ``"g"``."""
        if branch not in ("f", "g"):
            raise ValueError(f"branch is 'f' or 'g', got {branch!r}")
        return self.embed_f(x, check) if branch == "f" else self.embed_g(x, check)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """``delta(f(x_i), g(y_i))``: ``(N, ...), (N, ...) -> (N,)``."""
        if x.shape[0] != y.shape[0]:
            raise ValueError(pair_sizes_message(x.shape[0], y.shape[0]))
        return self.distance.pairwise(self.embed_f(x), self.embed_g(y))

    def config(self) -> dict[str, Any]:
        """The JSON-ready description :func:`siamkit.save_model` stores and :meth:`from_config` reads."""
        return {
            "kind": self.kind,
            "encoder_f": encoder_spec(self.encoder_f),
            "encoder_g": encoder_spec(self.encoder_g),
            "head": self.head_f.config(),
            "distance": distance_config(self.distance),
            "preprocess_f": self.preprocess_f.config(),
            "preprocess_g": self.preprocess_g.config(),
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> HalfTwinNetwork:
        """Rebuild the network (untrained weights) from :meth:`config`."""
        head = cfg["head"]
        return cls(
            rebuild_encoder(cfg["encoder_f"]),
            rebuild_encoder(cfg["encoder_g"]),
            embedding_dim=head["embedding_dim"],
            distance=distance_from_config(cfg["distance"]),
            head_hidden=head["hidden"],
            normalize=head["normalize"],
            preprocess_f=Preprocess(**cfg["preprocess_f"]),
            preprocess_g=Preprocess(**cfg["preprocess_g"]),
        )
