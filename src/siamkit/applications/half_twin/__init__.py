"""Half-twin training from ``siamkit train``: two encoders f, g (unshared weights) for paired
inputs of two kinds, trained with a cross-modal contrastive loss (``task: half_twin``)."""

from siamkit.applications.half_twin.task import HalfTwinData, load_pairs, run, train_half_twin

__all__ = ["HalfTwinData", "load_pairs", "run", "train_half_twin"]
