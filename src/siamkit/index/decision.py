"""The one rule by which a distance (or a similarity) is held to a threshold: re-exported from
:mod:`siamkit.decision` (the lowest layer, so that evaluation decides by it too)."""

from __future__ import annotations

from siamkit.decision import ROOM_SCALE, ROUNDING, accepts, reaches, room

__all__ = ["ROOM_SCALE", "ROUNDING", "accepts", "reaches", "room"]
