"""A network's embedding joined with parameter-free appearance features: :class:`JoinedEmbedding`.

The network trains on its own (or, with ``model.appearance.in_loss``, with the loss seeing the
joined embedding); the features are joined when embedding, evaluating and exporting:

``embed(x) = [net.embed(x) ; w * features(x)] / sqrt(1 + w**2)``

The joined model's state is its network's state under the network's own keys, plus its own
distance and cohort: the layout of the ``SiameseNetwork`` with an ``appearance_skip`` that siamkit
saved before the join was a composition, so those model folders and checkpoints load unchanged
(:meth:`JoinedEmbedding.from_legacy_config`), and keep their fingerprints.

>>> from siamkit.encoders import create_encoder
>>> net = SiameseNetwork(create_encoder("convnet", in_channels=1), 16,
...                      preprocess=Preprocess(input_shape=(1, 28, 28)))
>>> JoinedEmbedding(net, AppearanceFeatures(pool=7), weight=0.5).embedding_dim
32
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from siamkit.distances import Distance, get_distance
from siamkit.distances.cohort import CohortNormalized
from siamkit.heads import AppearanceFeatures, join_features
from siamkit.models.preprocess import Preprocess
from siamkit.models.siamese import (
    PairScoring,
    SiameseNetwork,
    distance_config,
    distance_from_config,
)

_NET = "net."


def _unprefix_net(module: nn.Module, state: dict[str, Any], prefix: str, _meta: Any) -> None:
    """State-dict hook: the network's entries under its own keys (``encoder.*``, not ``net.encoder.*``)."""
    inner = prefix + _NET
    for key in [k for k in state if k.startswith(inner)]:
        state[prefix + key[len(inner) :]] = state.pop(key)
    meta = getattr(state, "_metadata", None)
    if isinstance(meta, dict):
        for key in [k for k in meta if k == inner[:-1] or k.startswith(inner)]:
            meta[prefix + key[len(inner) :]] = meta.pop(key)


def _prefix_net(module: nn.Module, state: dict[str, Any], prefix: str, *_: Any) -> None:
    """Load pre-hook: the inverse of :func:`_unprefix_net` (every key that is not the joined
    model's own distance or cohort belongs to the network)."""
    own = ("distance", "score_norm")
    for key in [k for k in state if k.startswith(prefix)]:
        if key[len(prefix) :].split(".", 1)[0] not in own:
            state[prefix + _NET + key[len(prefix) :]] = state.pop(key)


class JoinedEmbedding(PairScoring, nn.Module):
    """``net``'s embedding joined with ``weight``-weighted appearance ``features`` of the input.

    Args:
        net: the trained network (a :class:`SiameseNetwork` or any model with ``embed(x,
            check=)``, ``embedding_dim``, ``input_shape`` (C, H, W) and a ``preprocess``), with a
            fixed distance and no cohort of its own.
        features: the parameter-free features (:class:`~siamkit.heads.AppearanceFeatures`).
        weight: how much the features count against the unit-length learned embedding (> 0).
        distance: the distance of the joined embeddings (default: the network's fixed one); a
            learned distance must be built for :attr:`embedding_dim`.

    Both parts are unit length, so the joined embedding is too.
    """

    kind = "joined"
    net: (
        Any  # a SiameseNetwork, or any module with embed / embedding_dim / input_shape / preprocess
    )

    def __init__(
        self,
        net: Any,
        features: AppearanceFeatures,
        weight: float = 1.0,
        distance: str | Distance | None = None,
    ) -> None:
        super().__init__()
        if not weight > 0 or not torch.isfinite(torch.tensor(float(weight))):
            raise ValueError(f"the appearance weight must be a positive number, got {weight}")
        if isinstance(net.distance, nn.Module) and any(True for _ in net.distance.parameters()):
            raise ValueError(
                "the network of a joined embedding must use a fixed distance; give the learned "
                "distance to JoinedEmbedding(..., distance=) instead (it measures the joined embedding)"
            )
        if getattr(net, "score_norm", None) is not None:
            raise ValueError(
                "the network of a joined embedding must have no cohort (set_score_norm(None)); "
                "give the joined model its cohort of joined embeddings"
            )
        self.net = net
        self.features = features
        self.weight = float(weight)
        self._embedding_dim = int(net.embedding_dim) + features.extra_dim(net.input_shape)
        self.distance: Distance = get_distance(net.distance if distance is None else distance)
        self.score_norm: CohortNormalized | None = None
        self.threshold: float | None = None
        self.register_state_dict_post_hook(_unprefix_net)  # type: ignore[arg-type]
        self.register_load_state_dict_pre_hook(_prefix_net)

    @property
    def embedding_dim(self) -> int:
        """The network's embedding size plus the number of appearance features."""
        return self._embedding_dim

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """The network's input shape without the batch dimension, ``None`` before it has seen a batch."""
        return self.net.input_shape  # type: ignore[no-any-return]

    @property
    def preprocess(self) -> Preprocess:
        """The network's input checks and normalisation (the features see the raw ``[0, 1]`` input)."""
        return self.net.preprocess  # type: ignore[no-any-return]

    def embed(self, x: Tensor, check: bool = True) -> Tensor:
        """``(N, C, H, W)`` images in ``[0, 1]`` -> ``(N, D_net + D_features)`` joined embeddings,
        in the network's dtype whatever float dtype the images have (as the network's own)."""
        parts = self.parts(x, check=check)
        return join_features(parts["learned"], parts["appearance"], self.weight)

    def parts(self, x: Tensor, check: bool = True) -> dict[str, Tensor]:
        """The parts :meth:`embed` joins, each alone and unweighted: ``{"learned": (N, D_net),
        "appearance": (N, D_features)}`` (the report's ablation). The features are computed in
        the learned part's dtype, or float32 if it is narrower, and come back in its dtype:
        float64 images from NumPy give float32 embeddings, and a half-precision network's
        features stay finite (their 1e-12 margin, which keeps a black image's from being 0/0,
        is 0 in float16)."""
        z = self.net.embed(x, check=check)
        wide = torch.promote_types(z.dtype, torch.float32)
        return {"learned": z, "appearance": self.features(x.to(wide)).to(z.dtype)}

    def config(self) -> dict[str, Any]:
        """The JSON-ready description :func:`siamkit.save_model` stores and :meth:`from_config` reads."""
        return {
            "kind": self.kind,
            "net": self.net.config(),  # type: ignore[operator]
            "features": self.features.config(),
            "weight": self.weight,
            "distance": distance_config(self.distance),
            "score_norm": self.score_norm.config() if self.score_norm is not None else None,
        }

    def fingerprint_config(self) -> dict[str, Any]:
        """What :func:`~siamkit.models.model_fingerprint` hashes: for a Siamese network, the
        description siamkit wrote for the same model before the join was a composition (a
        ``SiameseNetwork`` with an ``appearance_skip``), so galleries and exports made with such
        a model still recognise it; else :meth:`config`."""
        if not isinstance(self.net, SiameseNetwork):
            return self.config()
        return {
            **self.net.config(),
            "distance": distance_config(self.distance),
            "appearance_skip": {"weight": self.weight, **self.features.config()},
            "score_norm": self.score_norm.config() if self.score_norm is not None else None,
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> JoinedEmbedding:
        """Rebuild the joined model (untrained weights) from :meth:`config`."""
        from siamkit.models.kinds import model_class

        inner: Any = model_class(cfg["net"]["kind"])
        net = inner.from_config(cfg["net"])
        return cls._with_parts(net, cfg)

    @classmethod
    def from_bundle(cls, cfg: dict[str, Any], folder: Path) -> JoinedEmbedding:
        """Rebuild from a model folder (a network kind that reads files of its own, e.g. a
        tokenizer, gets the folder too)."""
        from siamkit.models.kinds import model_class

        inner: Any = model_class(cfg["net"]["kind"])
        rebuild = getattr(inner, "from_bundle", None)
        net = rebuild(cfg["net"], folder) if rebuild else inner.from_config(cfg["net"])
        return cls._with_parts(net, cfg)

    def save_extra_files(self, folder: Path) -> None:
        """The network's own files beside the weights, if it has any."""
        if callable(extra := getattr(self.net, "save_extra_files", None)):
            extra(folder)

    @classmethod
    def _with_parts(cls, net: nn.Module, cfg: dict[str, Any]) -> JoinedEmbedding:
        model = cls(
            net,
            AppearanceFeatures(**cfg["features"]),
            weight=cfg["weight"],
            distance=distance_from_config(cfg["distance"]),
        )
        if norm := cfg.get("score_norm"):
            model.score_norm = CohortNormalized.from_config(norm, model.distance)
        return model

    @classmethod
    def from_legacy_config(cls, cfg: dict[str, Any]) -> JoinedEmbedding:
        """A ``kind: siamese`` description with an ``appearance_skip`` (model folders saved before
        the join was a composition) as the joined model it describes; its weights load as saved."""
        skip = dict(cfg["appearance_skip"])
        net_cfg = {**cfg, "appearance_skip": None, "score_norm": None}
        if (
            cfg["distance"].get("type") != "fixed"
        ):  # a learned distance measured the joined embedding
            net_cfg["distance"] = {"type": "fixed", "name": "euclidean"}
        net = SiameseNetwork.from_config(net_cfg)
        weight = skip.pop("weight")
        new = {"features": skip, "weight": weight, "distance": cfg["distance"]}
        return cls._with_parts(net, {**new, "score_norm": cfg.get("score_norm")})


def network_of(model: nn.Module) -> Any:
    """The trained network of ``model``: the network of a :class:`JoinedEmbedding` (the
    appearance features have no weights), else ``model`` itself."""
    return model.net if isinstance(model, JoinedEmbedding) else model
