"""1:1 verification of two inputs without a gallery."""

from __future__ import annotations

from typing import Any

import torch

from siamkit.index.decision import accepts
from siamkit.index.embedding import as_photo_list, embed_inputs, model_distance, model_threshold
from siamkit.index.results import VerifyResult


def verify_pair(model: Any, a: Any, b: Any, threshold: float | None = None) -> VerifyResult:
    """Are ``a`` and ``b`` the same? One input each (``(C, H, W)`` or ``(1, C, H, W)`` in [0, 1]).

    The threshold is ``threshold`` if given, else ``model.threshold`` (a text model without
    one: all-MiniLM-L6-v2's sentence default, as ``siamkit text similarity``; a text model joined
    to a lexical tower without one: ``ValueError``, since no default applies to its scores);
    without either, ``same`` is ``None`` and only the distance is reported. ``a`` is the probe
    and ``b`` the reference: a two-tower model embeds ``a`` with its query tower and ``b`` with
    its document tower (a :class:`~siamkit.models.HalfTwinNetwork`: ``f(a)`` and ``g(b)``).

    >>> verify_pair(net, img_a, img_b).same  # doctest: +SKIP
    True
    """
    if threshold is None:
        threshold, _ = model_threshold(model)  # before embedding: a refusal costs nothing
    if getattr(model, "input_kind", None) == "photo":
        # a face model's two photos in one call: a photo without a face is named by its own
        # index (NoFaceError.index 1 for b), not as "image 1 of 1" of a call of its own
        pa, pb = as_photo_list(a), as_photo_list(b)
        if len(pa) != 1 or len(pb) != 1:
            raise ValueError(_one_pair(len(pa), len(pb)))
        z = embed_inputs(model, pa + pb)
        za, zb = z[:1], z[1:]
    else:
        # a two-tower model: a through the query tower, b the document tower (a text
        # half-twin as text similarity; a HalfTwinNetwork f(a), g(b), as it trains)
        za, zb = embed_inputs(model, a), embed_inputs(model, b, role="document")
    if za.shape[0] != 1 or zb.shape[0] != 1:
        raise ValueError(_one_pair(za.shape[0], zb.shape[0]))
    return verify_embedded(model, za, zb, threshold)


def verify_embedded(model: Any, za: Any, zb: Any, threshold: float | None) -> VerifyResult:
    """:func:`verify_pair`'s decision on embeddings ``za`` and ``zb`` (``(1, D)`` arrays) that
    ``model`` made: their distance under the model's distance, ``same`` when it is at most
    ``threshold`` within float32 rounding (:func:`siamkit.index.decision.accepts`, as every
    command decides), ``None`` without a threshold."""
    with torch.inference_mode():
        d = float(model_distance(model).pairwise(torch.from_numpy(za), torch.from_numpy(zb))[0])
    same = None if threshold is None else bool(accepts(d, float(threshold)))
    return VerifyResult(same, d, None if threshold is None else float(threshold), None)


def _one_pair(n_a: int, n_b: int) -> str:
    return (
        f"verify_pair compares one pair, got {n_a} and {n_b} inputs; "
        "use model(a, b) for batches of pairs"
    )
