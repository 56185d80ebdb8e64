"""JSON of ``POST /recommend`` (kept beside schemas.py so the recommend route stays self-contained)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RecommendRequest(BaseModel):
    """POST /recommend body: liked items by label (all its items) or ``#ID`` (one item)."""

    like: list[str] = Field(min_length=1, max_length=100, examples=[["item-12", "item-40"]])
    k: int = Field(default=10, ge=1, description="How many items to recommend.")


class RecommendedItem(BaseModel):
    label: str
    item_id: int
    distance: float = Field(description="To the closest liked item; smaller is more similar.")


class RecommendResponse(BaseModel):
    items: list[RecommendedItem] = Field(description="Nearest first; liked items excluded.")
