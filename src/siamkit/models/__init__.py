"""The Siamese model family: shared-weight twins, half-twins, and the preprocessing they carry."""

from siamkit.models.fingerprint import model_fingerprint
from siamkit.models.half_twin import HalfTwinNetwork
from siamkit.models.preprocess import Preprocess
from siamkit.models.siamese import SiameseNetwork, distance_from_config

MODEL_KINDS: dict[str, type[SiameseNetwork] | type[HalfTwinNetwork]] = {
    "siamese": SiameseNetwork,
    "half_twin": HalfTwinNetwork,
}

__all__ = [
    "MODEL_KINDS",
    "HalfTwinNetwork",
    "Preprocess",
    "SiameseNetwork",
    "distance_from_config",
    "model_fingerprint",
]
