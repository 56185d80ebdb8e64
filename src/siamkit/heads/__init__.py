"""Embedding heads."""

from siamkit.heads.embedding import EmbeddingHead

__all__ = ["EmbeddingHead"]
