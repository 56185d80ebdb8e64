"""A fingerprint of a model's architecture and weights."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from torch import nn


def model_fingerprint(model: Any) -> str:
    """SHA-256 over the model's architecture and weights; equal models give equal fingerprints.

    Galleries store it so they can refuse embeddings from a different model. A runtime wrapper
    that is not a torch module (e.g. :class:`siamkit.export.OnnxModel`) carries the fingerprint of
    the torch model it was exported from in a ``fingerprint`` attribute, which is returned as is.
    A kind with a ``fingerprint_config()`` is hashed by that description instead of ``config()``.
    """
    if not isinstance(model, nn.Module):
        fp = getattr(model, "fingerprint", None)
        if isinstance(fp, str) and fp:
            return fp
        raise TypeError(
            f"cannot fingerprint a {type(model).__name__}: it is neither a siamkit model nor carries a fingerprint"
        )
    # a kind may describe itself as an equivalent model was described before (JoinedEmbedding)
    describe: Any = getattr(model, "fingerprint_config", None) or model.config
    return fingerprint_of(describe(), model.state_dict())


#: Keys of a model's description that hold a calibration, not its architecture: a command that
#: refits them in place (``siamkit calibrate`` on a half-twin text model refits its threshold for
#: two documents) leaves the embeddings, and so the galleries and exports made with the model,
#: as they were, so they are not hashed (the model's ``threshold`` is kept outside its
#: description for the same reason).
CALIBRATION_KEYS = ("document_threshold",)


def fingerprint_of(config: Any, tensors: Mapping[str, Any]) -> str:
    """SHA-256 over a model's description (``config``, JSON with sorted keys, without its
    :data:`CALIBRATION_KEYS`) and its named tensors, in name order: what
    :func:`model_fingerprint` hashes for a built model, and what ``siamkit recommend`` hashes
    from a saved folder's ``siamkit.json`` and weights file without building the model, so that
    the two cannot drift apart. A tensor whose dtype numpy lacks (bfloat16) raises
    :class:`TypeError`.
    """
    if isinstance(config, Mapping):
        config = {k: v for k, v in config.items() if k not in CALIBRATION_KEYS}
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name, tensor in sorted(tensors.items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
