"""Siamese transformers for text: similarity, near-duplicate groups, plagiarism reports, fine-tuning.

``TextSiameseNetwork`` and ``load_text_model`` are imported on first use: they import torch, and
importing this package must not, so that :class:`~siamkit.applications.text.onnx.TextOnnxEmbedder`
(ONNX Runtime and ``tokenizers`` alone) runs on a device without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siamkit.applications.text.model import TextSiameseNetwork, load_text_model

__all__ = ["TextSiameseNetwork", "load_text_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from siamkit.applications.text import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
