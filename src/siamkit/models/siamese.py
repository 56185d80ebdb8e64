"""The Siamese network: one encoder and head shared by every branch (shared weights)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from siamkit.distances import Distance, get_distance
from siamkit.distances.cohort import CohortNormalized
from siamkit.distances.learned import MLPMetric, learned_distance_from_config
from siamkit.distances.registry import rebuild_distance
from siamkit.encoders import create_encoder, encoder_spec  # noqa: F401  (the doctests use it)
from siamkit.encoders.registry import rebuild_encoder
from siamkit.heads import EmbeddingHead
from siamkit.models.preprocess import Preprocess, check_encoder_input, one_item_batch_named

if TYPE_CHECKING:
    from siamkit.models.joined import JoinedEmbedding


def pair_sizes_message(first: int, second: int) -> str:
    """What a pair call says of ``first`` items paired with ``second`` (unequal) items, before
    embedding either batch. The image runtime (``siamkit.export.runtime``, which imports nothing
    of siamkit) keeps a copy of this sentence; a test holds the two equal.

    >>> pair_sizes_message(2, 3)[:40]
    'pair batches differ in size: 2 and 3; pa'
    """
    return (
        f"pair batches differ in size: {first} and {second}; pairs are a[i] with b[i], so give "
        "as many second items as first, or, to compare items one-to-many, embed() both batches "
        "and compare the embeddings (or enroll one side in a gallery and identify the other)"
    )


def num_features(encoder: nn.Module) -> int:
    """The encoder's output width; a clear error if it does not declare one."""
    n = getattr(encoder, "num_features", None)
    if not isinstance(n, int) or n < 1:
        raise TypeError(
            f"the encoder {type(encoder).__name__} must expose a positive integer `num_features`"
        )
    return n


def distance_config(distance: Distance) -> dict[str, Any]:
    """How a model folder describes ``distance`` (:func:`distance_from_config` reads it back)."""
    spec = getattr(distance, "siamkit_spec", None)
    if isinstance(spec, dict):  # a user's registered distance: its name and parameters
        return {"type": "registered", **spec}
    if isinstance(distance, nn.Module):
        return distance.config()  # type: ignore[operator]
    return {"type": "fixed", "name": distance.name}


def distance_from_config(cfg: dict[str, Any]) -> Distance:
    """Rebuild a distance saved by :func:`distance_config`."""
    if cfg.get("type") == "fixed":
        return get_distance(cfg["name"])
    if cfg.get("type") == "registered":  # a user's registered distance, rebuilt by name
        return get_distance(rebuild_distance(cfg))
    return learned_distance_from_config(cfg)  # type: ignore[return-value]


def score_normalized(
    distance: Distance, dim: int, cohort: Tensor | None, k: int, method: str
) -> CohortNormalized | None:
    """``distance`` normalised against ``cohort`` (``(C, dim)`` embeddings), or ``None``."""
    if cohort is not None and (cohort.dim() != 2 or cohort.shape[1] != dim):
        raise ValueError(
            f"cohort embeddings must be (C, {dim}) for this model, got {tuple(cohort.shape)}"
        )
    return None if cohort is None else CohortNormalized(distance, cohort, k=k, method=method)


class PairScoring:
    """What :class:`SiameseNetwork` and :class:`~siamkit.models.JoinedEmbedding` score pairs with:
    one ``distance`` between embeddings of the same model, optionally normalised against a cohort
    (:meth:`set_score_norm`), and ``forward`` = the distances of pairs. The model (an
    ``nn.Module``) sets ``distance``, ``score_norm`` and ``threshold`` and gives ``embedding_dim``
    and ``embed``.
    """

    distance: Distance
    score_norm: CohortNormalized | None
    threshold: float | None

    @property
    def embedding_dim(self) -> int:
        raise NotImplementedError

    def embed(self, x: Tensor, check: bool = True) -> Tensor:
        raise NotImplementedError

    @property
    def distance_name(self) -> str:
        return self.distance.name

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
        self.score_norm = score_normalized(self.distance, self.embedding_dim, cohort, k, method)
        self.threshold = None

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Distances between the pairs ``(a_i, b_i)``: ``(N, ...), (N, ...) -> (N,)``."""
        if a.shape[0] != b.shape[0]:
            raise ValueError(pair_sizes_message(a.shape[0], b.shape[0]))
        return self.distance.pairwise(self.embed(a), self.embed(b))


class SiameseNetwork(PairScoring, nn.Module):
    """Twin branches that are one module: every input goes through the same encoder and head.

    Args:
        encoder: from :func:`siamkit.encoders.create_encoder` (for saving) with ``num_features``.
        embedding_dim: size of the L2-normalised embedding.
        distance: a name (``"euclidean"``, ``"cosine"``, ...) or a learned metric module.
        head_hidden: hidden layer sizes of the projection head.
        normalize: L2-normalise embeddings.
        preprocess: input checks and normalisation kept inside the model.

    Appearance features joined to the embedding (helpful on classes never seen in training) are a
    composition around the network: :class:`~siamkit.models.JoinedEmbedding`.

    >>> import torch
    >>> net = SiameseNetwork(create_encoder("convnet", in_channels=1), embedding_dim=16)
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
    ) -> None:
        super().__init__()
        self.encoder = encoder
        # an encoder's multi-level taps (ConvNet ``taps``) join the embedding unprojected
        passthrough = int(getattr(encoder, "num_passthrough", 0))
        self.head = EmbeddingHead(
            num_features(encoder), embedding_dim, head_hidden, normalize, passthrough=passthrough
        )
        self.preprocess = preprocess if preprocess is not None else Preprocess()
        self._embedding_dim = self.head.out_dim
        self.distance: Distance = get_distance(distance)
        self.score_norm: CohortNormalized | None = None
        self.threshold: float | None = None

    @property
    def embedding_dim(self) -> int:
        """Size of the embeddings ``embed`` returns (the head's, with an encoder's passed-through taps)."""
        return self._embedding_dim

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """Input shape without the batch dimension (``(C, H, W)`` or ``(F,)``), ``None`` before the first batch."""
        return self.preprocess.input_shape

    def embed(self, x: Tensor, check: bool = True) -> Tensor:
        """``(N, C, H, W)`` images in ``[0, 1]`` (or ``(N, F)`` vectors) -> ``(N, D)`` embeddings.

        A training call: one batch, in the mode the network is in, with an autograd graph while
        the weights require grad (a loaded model's do), which for thousands of images holds
        gigabytes. To embed without one, call it under ``torch.no_grad()``, or use
        :func:`siamkit.encode.encode` (batches, eval mode, no graph, float32 on the CPU).

        >>> with torch.no_grad():  # doctest: +SKIP
        ...     z = net.embed(images)  # (N, D), no graph kept
        """
        if check:
            self.preprocess.check(x)
            check_encoder_input(self.encoder, x, self.preprocess.input_shape)
        with one_item_batch_named():
            return self.head(self.encoder(self.preprocess(x)))  # type: ignore[no-any-return]

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
        """The JSON-ready description :func:`siamkit.save_model` stores and :meth:`from_config` reads."""
        return {
            "kind": self.kind,
            "encoder": encoder_spec(self.encoder),
            "head": self.head.config(),
            "distance": distance_config(self.distance),
            "preprocess": self.preprocess.config(),
            # always null now (a JoinedEmbedding holds appearance features); kept because
            # model_fingerprint hashes this description, and galleries check the fingerprint
            "appearance_skip": None,
            "score_norm": self.score_norm.config() if self.score_norm is not None else None,
        }

    def former_fingerprints(self) -> tuple[str, ...]:
        """The fingerprints this model had by the encoder specs
        :func:`~siamkit.encoders.create_encoder` recorded before, where they describe the same
        encoder (:func:`~siamkit.encoders.registry.former_encoder_specs`): the arguments given
        alone, before the window a text encoder resolved them to was recorded; and a text
        encoder's folder path as typed, before the spec recorded it in one form (``./m``,
        ``m/`` and ``m`` all record ``m``), each spelling of it. What a gallery enrolled then
        by the same model records, which :meth:`~siamkit.index.Gallery.open` accepts too.
        None for others."""
        from siamkit.encoders.registry import former_encoder_specs
        from siamkit.models.fingerprint import fingerprint_of

        specs = former_encoder_specs(self.encoder)
        if not specs:
            return ()
        cfg, weights = self.config(), self.state_dict()
        return tuple(dict.fromkeys(fingerprint_of({**cfg, "encoder": s}, weights) for s in specs))

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> SiameseNetwork | JoinedEmbedding:
        """Rebuild from :meth:`config`. A description with an ``appearance_skip`` (model folders
        saved before the join was a composition) gives the :class:`JoinedEmbedding` it describes."""
        if cfg.get("appearance_skip"):
            from siamkit.models.joined import JoinedEmbedding

            return JoinedEmbedding.from_legacy_config(cfg)
        enc = rebuild_encoder(cfg["encoder"])
        head = cfg["head"]
        net = cls(
            enc,
            embedding_dim=head["embedding_dim"],
            distance=distance_from_config(cfg["distance"]),
            head_hidden=head["hidden"],
            normalize=head["normalize"],
            preprocess=Preprocess(**cfg["preprocess"]),
        )
        if norm := cfg.get("score_norm"):
            net.score_norm = CohortNormalized.from_config(norm, net.distance)
        return net
