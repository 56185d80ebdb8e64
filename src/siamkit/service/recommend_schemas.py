"""JSON of ``POST /recommend`` (kept beside schemas.py so the recommend route stays self-contained)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from siamkit.service.schemas import JsonBody


class RecommendRequest(JsonBody):
    """POST /recommend body: liked items by label (all its items) or ``#ID`` (one item); an
    unknown key ("likes", "K") is refused by name, and ``"k": true`` as no whole number
    (:class:`~siamkit.service.schemas.JsonBody`).
    """

    like: list[str] = Field(min_length=1, max_length=100, examples=[["item-12", "item-40"]])
    k: int = Field(
        default=10,
        description="How many items to recommend: 1 to the service's max_k (GET /info).",
    )
    per_label: bool = Field(
        default=False,
        description="At most one item per label, its nearest (products rather than their "
        "photos); the labels of the liked items are left out.",
    )


class RecommendedItem(BaseModel):
    label: str
    item_id: int
    distance: float = Field(description="To the closest liked item; smaller is more similar.")
    source: str | None = Field(
        default=None,
        description="The file the item was enrolled from: as `siamkit enroll` was given it, or "
        "the name of the file uploaded to /enroll; null for items enrolled otherwise.",
    )
    thumbnail: str | None = Field(
        default=None,
        description="An image model's service only: data:image/png;base64 URL of the item's "
        "image, as /identify's matches show it; null for items enrolled without one.",
    )
    text: str | None = Field(
        default=None,
        description="A text model's service only: the item's text (its first characters) when "
        "enrolled through the service, as /identify's matches show it; null for items enrolled "
        "otherwise.",
    )


class RecommendResponse(BaseModel):
    items: list[RecommendedItem] = Field(description="Nearest first; liked items excluded.")
