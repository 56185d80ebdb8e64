"""siamkit: similarity learning with Siamese networks.

>>> import siamkit
>>> enc = siamkit.encoders.create_encoder("convnet", in_channels=1)
>>> net = siamkit.SiameseNetwork(enc, embedding_dim=64)
"""

from siamkit import distances, encoders, heads, losses, models
from siamkit._version import __version__
from siamkit.export.bundle import ModelFileError, load_model, model_fingerprint, save_model
from siamkit.models import HalfTwinNetwork, Preprocess, SiameseNetwork

__all__ = [
    "HalfTwinNetwork",
    "ModelFileError",
    "Preprocess",
    "SiameseNetwork",
    "__version__",
    "distances",
    "encoders",
    "heads",
    "load_model",
    "losses",
    "model_fingerprint",
    "models",
    "save_model",
]
