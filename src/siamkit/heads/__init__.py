"""Embedding heads and the appearance skip."""

from siamkit.heads.appearance import AppearanceSkip
from siamkit.heads.embedding import EmbeddingHead

__all__ = ["AppearanceSkip", "EmbeddingHead"]
