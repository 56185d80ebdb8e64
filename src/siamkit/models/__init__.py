"""The Siamese model family: shared-weight twins, half-twins, a network joined with appearance
features, and the preprocessing they carry."""

from siamkit.models.fingerprint import model_fingerprint
from siamkit.models.half_twin import HalfTwinNetwork
from siamkit.models.joined import JoinedEmbedding, network_of
from siamkit.models.kinds import is_model, model_class, model_kinds, register_model_kind
from siamkit.models.preprocess import Preprocess
from siamkit.models.siamese import SiameseNetwork, distance_from_config

__all__ = [
    "HalfTwinNetwork",
    "JoinedEmbedding",
    "Preprocess",
    "SiameseNetwork",
    "distance_from_config",
    "is_model",
    "model_class",
    "model_fingerprint",
    "model_kinds",
    "network_of",
    "register_model_kind",
]
