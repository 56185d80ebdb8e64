"""Typed gallery results and errors."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from siamkit.clauses import listed, listing


def unknown_label_hint(label: str, labels: Sequence[str], noun: str = "labels") -> str:
    """The end of an "is not enrolled" message: the enrolled ``labels`` closest to ``label``
    (a typo, another case, a dropped leading zero), else the first ten of them.

    >>> unknown_label_hint("item-11", ["boot", "item-1", "sandal"])
    "; did you mean 'item-1'?"
    >>> unknown_label_hint("Zebra", ["boot", "sandal"])
    "; enrolled labels include 'boot', 'sandal'"
    >>> unknown_label_hint("boot", [], noun="writers")
    '; no writers are enrolled'
    """
    if not labels:
        return f"; no {noun} are enrolled"
    by_lower: dict[str, str] = {}
    for name in labels:
        by_lower.setdefault(name.lower(), name)
    matcher = difflib.SequenceMatcher(b=label.lower())
    scored = []
    for name in by_lower:  # as difflib.get_close_matches, cheap bounds first
        matcher.set_seq1(name)
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
            scored.append((matcher.ratio(), name))
    best = max((r for r, _ in scored), default=0.0)  # the closest few only: 'item-1' for
    close = sorted((-r, n) for r, n in scored if r >= max(0.6, best - 0.1))[:3]  # 'item-11'
    if close:
        names = [repr(by_lower[name]) for _, name in close]
        either = listed(names, "or")
        return f"; did you mean {either}?"
    return f"; enrolled {noun} include {listing(repr(name) for name in labels)}"


class EnrolledIds(list[int]):
    """The new item ids of one enrollment, in input order (a plain ``list`` of ints, as
    enrollment always returned), and ``skipped``: the positions in the inputs of those not
    enrolled because their label already holds them (``skip_repeats=True``; else empty).

    >>> ids = EnrolledIds([7, 8], skipped=[1])
    >>> ids == [7, 8], ids.skipped
    (True, [1])
    """

    def __init__(self, ids: Iterable[int] = (), skipped: Iterable[int] = ()) -> None:
        super().__init__(ids)
        self.skipped: list[int] = list(skipped)


class GalleryMismatchError(ValueError):
    """The gallery was built by a different model (another embedding size or other weights)."""


class RecordedModelEnrolledError(GalleryMismatchError):
    """A Gallery opened by a model that was to take over a gallery holding no item (which
    recorded another model) is refused: the model the gallery records enrolled items since."""


class UnknownLabelError(LookupError, ValueError):
    """A label (or item id) that is not in the gallery."""


@dataclass(frozen=True)
class Match:
    """One gallery item close to a query.

    Attributes:
        label: the item's label.
        distance: distance from the query (smaller = more similar).
        item_id: the item's id in the gallery store.
        accepted: ``distance <= threshold`` within float32 rounding
            (:func:`siamkit.index.decision.accepts`); ``None`` when the gallery has no threshold.
    """

    label: str
    distance: float
    item_id: int
    accepted: bool | None


@dataclass(frozen=True)
class IdentifyResult:
    """Answer to "who is this?".

    Attributes:
        matches: the nearest labels, best first, each with its closest item (one per label).
        label: the best match's label if it is accepted, ``None`` for an unknown (open-set)
            query whose best match is beyond the threshold or for an empty gallery. Without a
            threshold it is simply the nearest label.
    """

    matches: list[Match]
    label: str | None

    @property
    def is_unknown(self) -> bool:
        """True when no enrolled label is accepted."""
        return self.label is None


@dataclass(frozen=True)
class VerifyResult:
    """Answer to "is this the same?".

    Attributes:
        same: ``distance <= threshold`` within float32 rounding
            (:func:`siamkit.index.decision.accepts`); ``None`` when there is no threshold.
        distance: distance between the two inputs, or from the input to the label's closest item.
        threshold: the decision threshold used, or ``None``.
        label: the claimed label (gallery verification), ``None`` for a 1:1 pair.
    """

    same: bool | None
    distance: float
    threshold: float | None
    label: str | None = None


@dataclass(frozen=True)
class GalleryStats:
    """What a gallery holds and which model made it."""

    path: str
    num_items: int
    num_labels: int
    embedding_dim: int
    distance: str
    model_fingerprint: str
    threshold: float | None
    index: str
    file_bytes: int
    created: str
    siamkit_version: str
    model_path: str = ""  # the model folder recorded by Gallery.remember_model_path, if any
