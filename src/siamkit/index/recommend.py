"""Recommendation by liked items: labels or ``#id`` references -> :meth:`Gallery.recommend`.

Example:
    >>> recommend_like(gallery, ["item-12", "item-40", "#7"], k=10)  # doctest: +SKIP
    [Match(label='item-13', distance=0.21, item_id=14, accepted=None), ...]
"""

from __future__ import annotations

from collections.abc import Sequence

from siamkit.index.gallery import Gallery
from siamkit.index.gallery_search import UnknownItemError
from siamkit.index.results import Match, UnknownLabelError

__all__ = ["UnknownItemError", "UnknownLikedLabelError", "liked_item_ids", "recommend_like"]


class UnknownLikedLabelError(UnknownLabelError):
    """A liked label that is not enrolled; ``label`` names it, so a caller (the service) can word
    its own sentence. The message is :meth:`Gallery.items`' (it names the closest labels)."""

    def __init__(self, message: str, label: str) -> None:
        super().__init__(message)
        self.label = label


def liked_item_ids(gallery: Gallery, likes: Sequence[str]) -> list[int]:
    """Gallery item ids of ``likes``: every item of a label, or one item written ``#ID``.

    Raises:
        UnknownLikedLabelError: a label that is not enrolled (an ``#ID`` not in the gallery is
            refused by :meth:`Gallery.recommend`, with :class:`UnknownItemError`).
        ValueError: no likes, an ``#`` reference that is not a number, or an empty label.
    """
    if not likes:
        raise ValueError("give at least one liked item (a label, or #ID for one item)")
    ids: list[int] = []
    for like in likes:
        if not like.strip():  # the store said "a label must have 1 to 256 characters, got 0"
            raise ValueError(f"a liked item is empty ({like!r}): give a label, or #ID for one item")
        if like.startswith("#") and like not in gallery:
            try:
                ids.append(int(like[1:]))
            except ValueError:
                raise ValueError(f"{like!r}: an item id is written #ID, e.g. #12") from None
            continue
        try:  # every item of the label; an unknown one is refused naming the closest labels
            ids += gallery.items(like).ids.tolist()
        except UnknownLabelError as err:
            raise UnknownLikedLabelError(str(err.args[0]), like) from None
    return ids


def recommend_like(
    gallery: Gallery, likes: Sequence[str], k: int = 10, *, per_label: bool = False
) -> list[Match]:
    """The ``k`` items nearest to any liked item, liked items (all of a liked label) excluded;
    ``per_label``: one item per label, the liked items' labels left out
    (:meth:`Gallery.recommend`)."""
    return gallery.recommend(liked_item_ids(gallery, likes), k=k, per_label=per_label)
