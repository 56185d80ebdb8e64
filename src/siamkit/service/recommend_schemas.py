"""JSON of ``POST /recommend`` (kept beside schemas.py so the recommend route stays self-contained)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

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
    per_label: bool = Field(
        default=False,
        description="At most one item per label, its nearest (products rather than their "
        "photos); the labels of the liked items are left out.",
    )

    @field_validator("k", mode="before")
    @classmethod
    def _not_a_bool(cls, k: Any) -> Any:
        """JSON's ``true`` is no count: pydantic's lax mode read ``"k": true`` as 1 item."""
        if isinstance(k, bool):
            raise PydanticCustomError("int_type", "Input should be a valid integer")
        return k


class RecommendedItem(BaseModel):
    label: str
    item_id: int
    distance: float = Field(description="To the closest liked item; smaller is more similar.")


class RecommendResponse(BaseModel):
    items: list[RecommendedItem] = Field(description="Nearest first; liked items excluded.")
