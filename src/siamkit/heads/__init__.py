"""Embedding heads and the parameter-free appearance features."""

from siamkit.heads.appearance import AppearanceFeatures, join_features
from siamkit.heads.embedding import EmbeddingHead

__all__ = ["AppearanceFeatures", "EmbeddingHead", "join_features"]
