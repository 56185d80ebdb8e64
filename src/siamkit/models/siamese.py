"""The Siamese network: one encoder and head shared by every branch (shared weights)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from siamkit.distances import Distance, get_distance
from siamkit.distances.cohort import CohortNormalized
from siamkit.distances.learned import MLPMetric, learned_distance_from_config
from siamkit.encoders import create_encoder, encoder_spec
from siamkit.heads import AppearanceSkip, EmbeddingHead
from siamkit.models.preprocess import Preprocess


def num_features(encoder: nn.Module) -> int:
    """The encoder's output width; a clear error if it does not declare one."""
    n = getattr(encoder, "num_features", None)
    if not isinstance(n, int) or n < 1:
        raise TypeError(
            f"the encoder {type(encoder).__name__} must expose a positive integer `num_features`"
        )
    return n


def _distance_config(distance: Distance) -> dict[str, Any]:
    if isinstance(distance, nn.Module):
        return distance.config()  # type: ignore[operator]
    return {"type": "fixed", "name": distance.name}


def distance_from_config(cfg: dict[str, Any]) -> Distance:
    """Rebuild a distance saved by :func:`_distance_config`."""
    if cfg.get("type") == "fixed":
        return get_distance(cfg["name"])
    return learned_distance_from_config(cfg)  # type: ignore[return-value]


class SiameseNetwork(nn.Module):
    """Twin branches that are one module: every input goes through the same encoder and head.

    Args:
        encoder: from :func:`siamkit.encoders.create_encoder` (for saving) with ``num_features``.
        embedding_dim: size of the L2-normalised embedding.
        distance: a name (``"euclidean"``, ``"cosine"``, ...) or a learned metric module.
        head_hidden: hidden layer sizes of the projection head.
        normalize: L2-normalise embeddings.
        preprocess: input checks and normalisation kept inside the model.
        appearance_skip: join low-resolution input pixels to the embedding (image models with a
            known ``input_shape``); helps on classes never seen in training.

    >>> net = SiameseNetwork(siamkit.encoders.create_encoder("convnet", in_channels=1), embedding_dim=16)
    >>> net(torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28)).shape
    torch.Size([2])
    """

    kind = "siamese"

    def __init__(
        self,
        encoder: nn.Module,
        embedding_dim: int = 64,
        distance: str | Distance = "euclidean",
        head_hidden: Sequence[int] = (),
        normalize: bool = True,
        preprocess: Preprocess | None = None,
        appearance_skip: AppearanceSkip | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = EmbeddingHead(num_features(encoder), embedding_dim, head_hidden, normalize)
        self.preprocess = preprocess if preprocess is not None else Preprocess()
        self.appearance_skip = appearance_skip
        extra = appearance_skip.extra_dim(self.preprocess.input_shape) if appearance_skip else 0
        self._embedding_dim = embedding_dim + extra
        self.distance: Distance = get_distance(distance)
        self.score_norm: CohortNormalized | None = None
        self.threshold: float | None = None

    @property
    def scoring_distance(self) -> Distance:
        """The distance that verification and evaluation compare embeddings with: ``distance``
        normalised against the stored cohort when :meth:`set_score_norm` gave one, else ``distance``
        itself. Training always uses the raw ``distance``."""
        return self.distance if self.score_norm is None else self.score_norm

    def set_score_norm(self, cohort: Tensor | None, k: int = 300, method: str = "snorm") -> None:
        """Score pairs against ``cohort`` (``(C, D)`` embeddings of this model), or stop (``None``).

        See :class:`~siamkit.distances.cohort.CohortNormalized`. The cohort is saved with the
        weights. A calibrated ``threshold`` belongs to one scoring, so it is cleared here: calibrate
        again on the new scores.
        """
        if cohort is not None and (cohort.dim() != 2 or cohort.shape[1] != self.embedding_dim):
            raise ValueError(
                f"cohort embeddings must be (C, {self.embedding_dim}) for this model, "
                f"got {tuple(cohort.shape)}"
            )
        self.score_norm = (
            None if cohort is None else CohortNormalized(self.distance, cohort, k=k, method=method)
        )
        self.threshold = None

    @property
    def embedding_dim(self) -> int:
        """Size of the embeddings ``embed`` returns (the head's plus any appearance skip)."""
        return self._embedding_dim

    @property
    def distance_name(self) -> str:
        return self.distance.name

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return self.preprocess.input_shape

    def embed(self, x: Tensor, check: bool = True) -> Tensor:
        """``(N, C, H, W)`` images in ``[0, 1]`` (or ``(N, F)`` vectors) -> ``(N, D)`` embeddings."""
        if check:
            self.preprocess.check(x)
        z = self.head(self.encoder(self.preprocess(x)))
        return z if self.appearance_skip is None else self.appearance_skip(x, z)

    def embed_learned(self, x: Tensor, check: bool = True) -> Tensor:
        """The learned part alone (encoder + head), without computing any appearance features:
        what a run with the appearance skip outside the loss trains. ``(N, ...) -> (N, D_learned)``."""
        if check:
            self.preprocess.check(x)
        return self.head(self.encoder(self.preprocess(x)))  # type: ignore[no-any-return]

    def embed_parts(self, x: Tensor, check: bool = True) -> dict[str, Tensor]:
        """The parts ``embed`` joins, each on its own: ``{"learned": encoder + head}``, plus
        ``"appearance"`` (the skip's parameter-free features) when the model has an appearance skip.
        Used to show how much each part is worth on unseen classes (the report's ablation).
        """
        parts = {"learned": self.embed_learned(x, check)}
        if self.appearance_skip is not None:
            parts["appearance"] = self.appearance_skip.appearance(x)
        return parts

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Distances between the pairs ``(a_i, b_i)``: ``(N, ...), (N, ...) -> (N,)``."""
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"pair batches differ in size: {a.shape[0]} and {b.shape[0]}")
        return self.distance.pairwise(self.embed(a), self.embed(b))

    def branches(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        """Embed any number of inputs with the shared weights, e.g. ``z_a, z_p, z_n = net.branches(a, p, n)``."""
        return tuple(self.embed(x) for x in inputs)

    def pair_logits(self, a: Tensor, b: Tensor) -> Tensor:
        """ "Same" logits of a learned :class:`~siamkit.distances.MLPMetric` head, for BCE training. ``(N,)``."""
        if not isinstance(self.distance, MLPMetric):
            raise TypeError(
                "pair_logits needs distance=MLPMetric(...); this model uses " + self.distance_name
            )
        return self.distance.logits(self.embed(a), self.embed(b))

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "encoder": encoder_spec(self.encoder),
            "head": self.head.config(),
            "distance": _distance_config(self.distance),
            "preprocess": self.preprocess.config(),
            "appearance_skip": self.appearance_skip.config() if self.appearance_skip else None,
            "score_norm": self.score_norm.config() if self.score_norm is not None else None,
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> SiameseNetwork:
        enc = create_encoder(cfg["encoder"]["name"], **cfg["encoder"]["kwargs"])
        head = cfg["head"]
        net = cls(
            enc,
            embedding_dim=head["embedding_dim"],
            distance=distance_from_config(cfg["distance"]),
            head_hidden=head["hidden"],
            normalize=head["normalize"],
            preprocess=Preprocess(**cfg["preprocess"]),
            appearance_skip=AppearanceSkip(**skip)
            if (skip := cfg.get("appearance_skip"))
            else None,
        )
        if norm := cfg.get("score_norm"):
            net.score_norm = CohortNormalized.from_config(norm, net.distance)
        return net
