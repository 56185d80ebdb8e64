"""siamkit: similarity learning with Siamese networks."""

from siamkit._version import __version__

__all__ = ["__version__"]
