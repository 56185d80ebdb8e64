"""The signature model: a SigNet-like encoder in a Siamese network over preprocessed signatures.

Inputs are SigNet-preprocessed signatures (:func:`siamkit.data.signature_preprocess.
signet_preprocess`): ``(N, 1, H, W)`` in ``[0, 1]``, paper 0 and ink bright. The model is a plain
:class:`~siamkit.models.SiameseNetwork` (kind ``siamese``), or one joined with HOG-like features
(:class:`~siamkit.models.JoinedEmbedding`, kind ``joined``), so ``save_model`` / ``load_model``,
the gallery, ``siamkit verify`` and ``siamkit serve`` take it as they are.

>>> import torch
>>> net = build_signature_model((1, 78, 110), embedding_dim=32)
>>> net.embed(torch.zeros(2, 1, 78, 110)).shape
torch.Size([2, 32])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from siamkit.encoders import create_encoder
from siamkit.heads import AppearanceFeatures
from siamkit.models import JoinedEmbedding, SiameseNetwork
from siamkit.models.preprocess import Preprocess

__all__ = ["build_signature_model", "smallest_signature_side"]


def smallest_signature_side(encoder_kwargs: Mapping[str, Any] | None = None) -> int:
    """The fewest pixels each side of a ``(1, H, W)`` input needs for the ``signet`` encoder of
    ``encoder_kwargs``: below it a pooling layer's feature map shrinks to nothing (about
    ``14 * stem_stride + 1``). Found by embedding blank squares, so it follows the encoder."""
    import torch

    encoder = create_encoder("signet", in_channels=1, **dict(encoder_kwargs or {})).eval()

    def fits(side: int) -> bool:
        try:
            with torch.no_grad():
                encoder(torch.zeros(1, 1, side, side))
        except RuntimeError:  # "Output size is too small"
            return False
        return True

    low, high = 1, 16  # fits(high) once doubled enough; the answer is in (low - 1, high]
    while not fits(high):
        if high >= 1 << 14:  # not a size problem: let the real error show
            encoder(torch.zeros(1, 1, high, high))
        low, high = high + 1, high * 2
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if fits(mid) else (mid + 1, high)
    return high


def build_signature_model(
    input_shape: Sequence[int] = (1, 155, 220),
    embedding_dim: int = 64,
    encoder_kwargs: Mapping[str, Any] | None = None,
    distance: str = "euclidean",
    appearance_weight: float = 0.0,
    appearance_pool: int = 4,
) -> SiameseNetwork | JoinedEmbedding:
    """A :class:`SiameseNetwork` with the ``signet`` encoder for ``(1, H, W)`` signatures.

    Args:
        input_shape: ``(1, H, W)`` of the preprocessed signatures.
        embedding_dim: size of the L2-normalised embedding.
        encoder_kwargs: arguments of :class:`siamkit.encoders.signet.SigNet` (widths, fc, ...).
        distance: the distance the model compares embeddings with.
        appearance_weight: > 0 joins parameter-free HOG-like features of the signature
            (``appearance_pool``-pixel cells; :class:`~siamkit.heads.AppearanceFeatures`) to the
            learned embedding with this weight (a :class:`JoinedEmbedding` of the network);
            training then sees the network alone.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or shape[0] != 1 or min(shape) < 1:
        raise ValueError(f"signature input_shape must be (1, H, W), got {tuple(input_shape)}.")
    side = smallest_signature_side(encoder_kwargs)
    if min(shape[1:]) < side:
        raise ValueError(
            f"signature input_shape {shape} is too small for this signet encoder: its feature "
            f"map shrinks to nothing; give each side at least {side} pixels, or a smaller "
            "stem_stride."
        )
    encoder = create_encoder("signet", in_channels=1, **dict(encoder_kwargs or {}))
    # preprocessed signatures are mostly paper (0); centre and scale them roughly
    net = SiameseNetwork(
        encoder,
        embedding_dim=embedding_dim,
        distance=distance,
        preprocess=Preprocess(mean=(0.05,), std=(0.15,), input_shape=shape),
    )
    if appearance_weight <= 0:
        return net
    return JoinedEmbedding(net, AppearanceFeatures(appearance_pool, "hog"), appearance_weight)
