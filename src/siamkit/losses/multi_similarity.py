"""Multi-similarity loss module (Wang et al., 2019), with or without its pair miner."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from siamkit.distances import Distance, get_distance, training_matrix
from siamkit.losses.functional import at_least_float32, multi_similarity_loss
from siamkit.losses.indices import Indices, pair_masks
from siamkit.miners._common import check_batch
from siamkit.miners.multi_similarity import MultiSimilarityMiner
from siamkit.params import number


class MultiSimilarityLoss(nn.Module):
    """Multi-similarity loss over the pairs of a batch; similarity is ``1 - distance``.

    With the default cosine distance the similarity is the cosine similarity, as in the paper.

    Args:
        alpha, beta, base: the loss's scales for positive and negative pairs and its offset.
        distance: a distance name or ``Distance`` object.
        mining: ``None`` (every pair), ``"multi_similarity"`` (its own miner,
            :class:`~siamkit.miners.MultiSimilarityMiner` with ``epsilon=0.1``) or any miner
            ``(embeddings, labels) -> Pairs | Triplets``.

    ``forward(embeddings (B, D), labels (B,), indices=None) -> scalar``; given ``indices`` win
    over ``mining``.

    >>> import torch
    >>> loss = MultiSimilarityLoss(mining="multi_similarity")
    >>> loss(torch.nn.functional.normalize(torch.randn(8, 4)), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])).dim()
    0
    """

    def __init__(
        self,
        alpha: float = 2.0,
        beta: float = 50.0,
        base: float = 0.5,
        distance: str | Distance = "cosine",
        mining: str | Callable[[Tensor, Tensor], Indices] | None = None,
    ) -> None:
        super().__init__()
        self.alpha = number("alpha", alpha, low=0, open_low=True, note="the paper's 2")
        self.beta = number("beta", beta, low=0, open_low=True, note="the paper's 50")
        self.base = number("base", base, note="a similarity; the paper's 0.5")
        self.distance = get_distance(distance)
        if mining == "multi_similarity":
            mining = MultiSimilarityMiner(0.1, self.distance)
        elif isinstance(mining, str) or (mining is not None and not callable(mining)):
            raise ValueError(
                f"mining must be None, 'multi_similarity' or a miner object, got {mining!r}"
            )
        self.mining = mining

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        labels = check_batch(embeddings, labels)
        if indices is None and self.mining is not None:
            indices = self.mining(embeddings, labels)
        pos, neg = pair_masks(indices, labels)
        z = at_least_float32(embeddings)
        sim = 1.0 - training_matrix(self.distance, z, z)  # (B, B)
        return multi_similarity_loss(sim, labels, self.alpha, self.beta, self.base, pos, neg)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, base={self.base}, mining={self.mining!r}"
