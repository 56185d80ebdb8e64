"""What a served model's embedding is made of, for ``/info`` and the web page ("Why 304 values?").

The parts are those of the saved model as it embeds: the embedding head's values (or, for a
self-supervised model saved with ``ssl.embed: backbone``, the encoder's pooled features, which an
identity head passes on), the encoder's multi-level taps joined unprojected (ConvNet ``taps``),
and fixed appearance features a :class:`~siamkit.models.JoinedEmbedding` joins. What trained the
network and was dropped (a self-supervised run's projection head) is no part of it.

>>> from siamkit.encoders import create_encoder
>>> from siamkit.models import SiameseNetwork
>>> enc = create_encoder("convnet", in_channels=1, widths=[8, 16], taps=[0], tap_grids=[2])
>>> [(p["name"], p["dim"]) for p in embedding_parts(SiameseNetwork(enc, 4))]
[('learned', 4), ('taps', 32)]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from siamkit.clauses import listed
from siamkit.heads import EmbeddingHead
from siamkit.index.embedding import model_embedding_dim
from siamkit.models import JoinedEmbedding, SiameseNetwork


def embedding_parts(model: Any) -> list[dict[str, Any]]:
    """What a model's embedding is made of: ``[{"name", "dim", "description"}]``, summing to D.

    A :class:`~siamkit.models.SiameseNetwork` embeds with its embedding head, followed by its
    encoder's taps when it has them (e.g. a self-supervised model's 128 head values + 4,416
    tap values); a :class:`~siamkit.models.JoinedEmbedding` joins fixed image features (HOG
    gradients or pooled pixels) to them, e.g. 64 learned + 240 HOG values = 304.
    """
    model = _exported_from(model)
    dim = model_embedding_dim(model)
    if getattr(model, "kind", None) == "dlib_face":  # trained by dlib, not by siamkit
        return [
            {
                "name": "pretrained",
                "dim": dim,
                "description": "Values of dlib's pretrained face network (a ResNet trained by "
                "dlib, not by siamkit) for the largest face of the photo, aligned on 5 "
                "landmarks.",
            }
        ]
    joined = isinstance(model, JoinedEmbedding)
    net = model.net if joined else model
    extra = dim - int(net.embedding_dim) if joined else 0
    if not 0 < extra < dim:
        return _network_parts(net, dim)
    hog = joined and model.features.features == "hog"
    kind = "HOG (gradient histograms)" if hog else "pooled pixels"
    appearance = {
        "name": "appearance",
        "dim": extra,
        "description": f"Fixed {kind} of the image, not learned, joined to the learned values "
        "so that classes never seen in training are still told apart by their look.",
    }
    return [*_network_parts(net, dim - extra), appearance]


def _exported_from(model: Any) -> Any:
    """The torch model an ONNX Runtime adapter (``--runtime onnx`` / ``onnx-int8``) was exported
    from, read from the model folder its file sits in, so that its parts are named as the torch
    model's are (64 learned + 240 HOG values, not 304 "learned" ones); the adapter itself when
    it is no such export or the folder holds another model (its fingerprint differs)."""
    embedder = getattr(model, "embedder", None)
    folder = Path(getattr(embedder, "path", "")).parent
    if getattr(model, "kind", None) != "onnx" or not (folder / "siamkit.json").is_file():
        return model
    from siamkit.export.bundle import load_model, read_model_config

    try:
        if read_model_config(folder).get("fingerprint") != getattr(model, "fingerprint", None):
            return model
        return load_model(folder)
    except (ImportError, OSError, ValueError, KeyError):  # a plug-in's encoder, damaged weights
        return model


def _network_parts(net: Any, dim: int) -> list[dict[str, Any]]:
    """The network's own ``dim`` values: its head's, then its encoder's taps (if any); one
    part for a network whose head is not a siamkit :class:`~siamkit.heads.EmbeddingHead`
    (a text model, an ONNX Runtime adapter)."""
    head = getattr(net, "head", None)
    if not isinstance(net, SiameseNetwork) or not isinstance(head, EmbeddingHead):
        return [
            {
                "name": "learned",
                "dim": dim,
                "description": "Values the network learned in training.",
            }
        ]
    taps = head.passthrough if 0 < head.passthrough < dim else 0
    learned = {"name": "learned", "dim": dim - taps, "description": _head_description(head)}
    if not taps:
        return [learned]
    return [learned, {"name": "taps", "dim": taps, "description": _taps_description(net.encoder)}]


def _head_description(head: EmbeddingHead) -> str:
    """What the head's values are: the encoder's pooled features as they are (an identity
    head, a self-supervised model saved with ``ssl.embed: backbone``) or projected by it."""
    deep = head.in_features - head.passthrough
    if _is_identity(head):
        return (
            f"The encoder's {deep} pooled deep features (the backbone's embedding, learned in "
            "training), L2-normalised, with no projection."
        )
    return (
        f"Values the network learned in training: the encoder's {deep} pooled deep features "
        f"projected by the embedding head to {head.embedding_dim}, L2-normalised."
    )


def _is_identity(head: EmbeddingHead) -> bool:
    """A head that passes the encoder's features on unchanged (one square linear layer with
    identity weights and zero bias), as a self-supervised run saves ``ssl.embed: backbone``."""
    layers = list(head.proj)
    if len(layers) != 1 or not isinstance(layers[0], torch.nn.Linear):
        return False
    w, b = layers[0].weight, layers[0].bias
    if w.shape[0] != w.shape[1]:
        return False
    with torch.no_grad():
        eye = torch.eye(w.shape[0], dtype=w.dtype, device=w.device)
        return bool(torch.equal(w, eye)) and (b is None or not bool(b.any()))


def _taps_description(encoder: Any) -> str:
    """The encoder's taps: which blocks, pooled in which cells (ConvNet ``taps``)."""
    blocks = [int(t) for t in getattr(encoder, "taps", ())]
    grids = [f"{g}\u00d7{g}" for g in getattr(encoder, "tap_grids", ())]
    # the blocks as the model config names them (taps: [1]), counted from 0
    what = f"early-layer features (taps: {blocks}, blocks counted from 0)" if blocks else ""
    cells = f", pooled in {listed(grids)} cells" if grids else ""
    trained = "" if getattr(encoder, "tap_train", True) else "; kept out of the training loss"
    return (
        f"The encoder's {what or 'early-layer features'}{cells} and joined as they are, not projected by the head "
        f"(multi-level taps{trained}): where edges and textures lie, which helps tell apart "
        "classes never seen in training."
    )
