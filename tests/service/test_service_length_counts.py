"""The service's list-length refusals count their items in the number a count takes, with the
thousands separator every message writes: a list of at most one item was refused as "must have
at most 1 items", and "at least 1000 items" lacked the separator (s60 final note, Counts).
Pydantic's error entries are built directly, as validation_detail receives them."""

from __future__ import annotations

from siamkit.service.errors import _message


def test_at_most_one_item_is_one_item() -> None:
    assert _message({"type": "too_long", "ctx": {"max_length": 1}}) == "must have at most 1 item"


def test_a_thousand_items_are_written_with_the_separator() -> None:
    assert _message({"type": "too_long", "ctx": {"max_length": 1000}}) == (
        "must have at most 1,000 items"
    )
    assert _message({"type": "too_short", "ctx": {"min_length": 1000}}) == (
        "must have at least 1,000 items"
    )
    assert _message({"type": "too_short", "ctx": {"min_length": 1}}) == "must have at least 1 item"
