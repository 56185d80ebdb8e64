"""A fingerprint of a model's architecture and weights."""

from __future__ import annotations

import hashlib
import json

from torch import nn


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 over the model's architecture and weights; equal models give equal fingerprints.

    Galleries store it so they can refuse embeddings from a different model.
    """
    h = hashlib.sha256(json.dumps(model.config(), sort_keys=True).encode())  # type: ignore[operator]
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
