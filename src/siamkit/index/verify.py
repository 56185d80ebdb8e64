"""1:1 verification of two inputs without a gallery."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from siamkit.clauses import NO_VERDICT
from siamkit.index.decision import accepts
from siamkit.index.embedding import (
    as_photo_list,
    embed_inputs,
    model_distance,
    model_embeddings,
    model_threshold,
)
from siamkit.index.results import VerifyResult


def verify_pair(
    model: Any,
    a: Any,
    b: Any,
    threshold: float | None = None,
    names: tuple[str, str] = ("the first input", "the second input"),
) -> VerifyResult:
    """Are ``a`` and ``b`` the same? One input each (``(C, H, W)`` or ``(1, C, H, W)`` in [0, 1]).

    The threshold is ``threshold`` if given, else ``model.threshold`` (a text model without
    one: all-MiniLM-L6-v2's sentence default, as ``siamkit text similarity``; a text model joined
    to a lexical tower without one: ``ValueError``, since no default applies to its scores);
    without either, ``same`` is ``None`` and only the distance is reported. ``a`` is the probe
    and ``b`` the reference: a two-tower model embeds ``a`` with its query tower and ``b`` with
    its document tower (a :class:`~siamkit.models.HalfTwinNetwork`: ``f(a)`` and ``g(b)``).

    A NaN or infinite embedding is refused by its input's name in ``names`` (the files
    ``siamkit verify`` compares, the fields the service's ``/verify`` was sent), in the gallery's
    class (:class:`~siamkit.index.base.UnrankableEmbeddingsError`): "1 of the 2 embeddings the
    model made of the two inputs hold NaN or infinite values ('b.png'), which no verdict can be
    given on". Each input was refused alone as "the inputs (rows 0)", naming neither.

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
        z = embed_inputs(model, pa + pb, refuse=False)  # refused below, by the photos' names
        za, zb, of = z[:1], z[1:], "the photos' largest faces"
    else:
        # a two-tower model: a through the query tower, b the document tower (a text
        # half-twin as text similarity; a HalfTwinNetwork f(a), g(b), as it trains); a NaN is
        # refused below, by the input's name
        za = embed_inputs(model, a, refuse=False)
        zb = embed_inputs(model, b, role="document", refuse=False)
        of = "the two inputs"
    if za.shape[0] != 1 or zb.shape[0] != 1:
        raise ValueError(_one_pair(za.shape[0], zb.shape[0]))
    z = model_embeddings(
        np.concatenate([za, zb]), of, [repr(str(n)) for n in names], which=NO_VERDICT
    )
    return verify_embedded(model, z[:1], z[1:], threshold)


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
