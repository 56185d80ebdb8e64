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

__all__ = [
    "AmbiguousLikeError",
    "UnknownItemError",
    "UnknownLikedLabelError",
    "liked_item_ids",
    "recommend_like",
]


class UnknownLikedLabelError(UnknownLabelError):
    """A liked label that is not enrolled; ``label`` names it, so a caller (the service) can word
    its own sentence. The message is :meth:`Gallery.items`' (it names the closest labels)."""

    def __init__(self, message: str, label: str) -> None:
        super().__init__(message)
        self.label = label


class AmbiguousLikeError(ValueError):
    """A like ``#12`` that is both item 12 and a label ``#12`` enrolled by an older siamkit
    (before such labels were refused) whose items are not just item 12; the message names both
    readings and how to like each: the item as ``#012``, the label as its items' ``#ID``."""

    def __init__(self, like: str, item_id: int, label_ids: list[int], item_spelling: str) -> None:
        shown = ", ".join(f"'#{i}'" for i in label_ids[:10])
        if len(label_ids) > 10:
            shown += f", ... ({len(label_ids)} items)"
        super().__init__(
            f"{like!r} is both item {item_id} and the label {like!r} (enrolled before labels "
            f"like item ids were refused): like item {item_id} as {item_spelling!r}, or the "
            f"label as its items {shown}"
        )
        self.like, self.item_id, self.label_ids = like, item_id, label_ids
        self.item_spelling = item_spelling


def _ambiguity(gallery: Gallery, like: str, label_ids: list[int]) -> AmbiguousLikeError | None:
    """The refusal of a like ``#N`` that names the enrolled label ``#N`` when item N is in the
    gallery too and is not the label's one item (else both readings like the same items)."""
    try:
        item_id = int(like[1:])
    except ValueError:  # '#x': a label only
        return None
    if label_ids == [item_id]:
        return None
    try:
        gallery._store.embeddings_of([item_id])
    except KeyError:  # no item N: the label it is
        return None
    digits = str(abs(item_id))
    spelling = like
    while spelling in gallery or spelling == like:  # '#012', read as item 12, unless a label
        digits = "0" + digits
        spelling = f"#{'-' if item_id < 0 else ''}{digits}"
    return AmbiguousLikeError(like, item_id, label_ids, spelling)


def liked_item_ids(gallery: Gallery, likes: Sequence[str]) -> list[int]:
    """Gallery item ids of ``likes``: every item of a label, or one item written ``#ID``.

    Raises:
        UnknownLikedLabelError: a label that is not enrolled (an ``#ID`` not in the gallery is
            refused by :meth:`Gallery.recommend`, with :class:`UnknownItemError`).
        AmbiguousLikeError: ``#N`` is both item N and a label enrolled by an older siamkit
            (a ``ValueError``; the message says how to like either).
        ValueError: no likes, an ``#`` reference that is not a number, or an empty label.
        TypeError: ``likes`` is one string (it was read letter by letter: "label 'i' is not in
            the gallery"), or holds something other than a string (an item id as an int).
    """
    if isinstance(likes, str):
        raise TypeError(f"likes is a list of labels and '#ID's, not one string: give [{likes!r}]")
    if not likes:
        raise ValueError("give at least one liked item (a label, or #ID for one item)")
    ids: list[int] = []
    for like in likes:
        if not isinstance(like, str):  # an int said "'int' object has no attribute 'strip'"
            raise TypeError(
                f"a like is a label or '#ID' string, got {like!r} ({type(like).__name__}); for "
                "item N give '#N', or pass item ids to Gallery.recommend"
            )
        if not like.strip():  # the store said "a label must have 1 to 256 characters, got 0"
            raise ValueError(f"a liked item is empty ({like!r}): give a label, or #ID for one item")
        if like.startswith("#") and like not in gallery:
            try:
                ids.append(int(like[1:]))
            except ValueError:
                raise ValueError(f"{like!r}: an item id is written #ID, e.g. #12") from None
            continue
        try:  # every item of the label; an unknown one is refused naming the closest labels
            label_ids = gallery.items(like).ids.tolist()
        except UnknownLabelError as err:
            raise UnknownLikedLabelError(str(err.args[0]), like) from None
        if like.startswith("#") and (refusal := _ambiguity(gallery, like, label_ids)) is not None:
            raise refusal
        ids += label_ids
    return ids


def recommend_like(
    gallery: Gallery, likes: Sequence[str], k: int = 10, *, per_label: bool = False
) -> list[Match]:
    """The ``k`` items nearest to any liked item, liked items (all of a liked label) excluded;
    ``per_label``: one item per label, the liked items' labels left out
    (:meth:`Gallery.recommend`)."""
    return gallery.recommend(liked_item_ids(gallery, likes), k=k, per_label=per_label)
