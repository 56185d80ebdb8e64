"""JSON of ``POST /recommend`` (kept beside schemas.py so the recommend route stays self-contained)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from siamkit.service.schemas import JsonBody


class RecommendRequest(JsonBody):
    """POST /recommend body: liked items by label (all its items) or ``#ID`` (one item); an
    unknown key ("likes", "K") is refused by name (:class:`~siamkit.service.schemas.JsonBody`).
    """

    like: list[str] = Field(min_length=1, max_length=100, examples=[["item-12", "item-40"]])
    k: int = Field(
        default=10,
        description="How many items to recommend: 1 to the service's max_k (GET /info).",
    )


class RecommendedItem(BaseModel):
    label: str
    item_id: int
    distance: float = Field(description="To the closest liked item; smaller is more similar.")


class RecommendResponse(BaseModel):
    items: list[RecommendedItem] = Field(description="Nearest first; liked items excluded.")
