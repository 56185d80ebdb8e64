"""Multi-similarity loss module (Wang et al., 2019)."""

from __future__ import annotations

from torch import Tensor, nn

from siamkit.distances import Distance, get_distance
from siamkit.losses.functional import multi_similarity_loss


class MultiSimilarityLoss(nn.Module):
    """Multi-similarity loss over all pairs of a batch; similarity is ``1 - distance``.

    With the default cosine distance the similarity is the cosine similarity, as in the paper.

    >>> loss = MultiSimilarityLoss()
    >>> loss(torch.nn.functional.normalize(torch.randn(8, 4)), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])).dim()
    0
    """

    def __init__(
        self,
        alpha: float = 2.0,
        beta: float = 50.0,
        base: float = 0.5,
        distance: str | Distance = "cosine",
    ) -> None:
        super().__init__()
        self.alpha, self.beta, self.base = alpha, beta, base
        self.distance = get_distance(distance)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` labels -> scalar loss."""
        sim = 1.0 - self.distance.matrix(embeddings, embeddings)
        return multi_similarity_loss(sim, labels, self.alpha, self.beta, self.base)
