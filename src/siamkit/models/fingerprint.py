"""A fingerprint of a model's architecture and weights."""

from __future__ import annotations

import hashlib
import json
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
    h = hashlib.sha256(json.dumps(describe(), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
