"""Siamese transformers for text: similarity, near-duplicate groups, plagiarism reports, fine-tuning."""

from siamkit.applications.text.model import TextSiameseNetwork, load_text_model

__all__ = ["TextSiameseNetwork", "load_text_model"]
