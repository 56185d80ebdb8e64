"""What the endpoints answer: their result objects turned into the response models, with
margins, thumbnails, sources and notes (the image and the text endpoints)."""

from __future__ import annotations

import math
from typing import Any, TypeVar

from fastapi import Response

from siamkit.index import GalleryStats, IdentifyResult, Match, VerifyResult
from siamkit.service.engine import ServiceEngine
from siamkit.service.errors import RequestError
from siamkit.service.schemas import (
    EnrollFields,
    GalleryInfo,
    IdentifyResponse,
    MatchOut,
    VerifyFields,
    VerifyResponse,
)
from siamkit.service.thumbnails import data_url
from siamkit.service.uploads import Upload

Answer = TypeVar("Answer", bound=EnrollFields)


def enroll_answer(
    answer: type[Answer],
    response: Response,
    label: str,
    ids: list[int],
    count: int,
    skipped: int,
    **extra: Any,
) -> Answer:
    """``/enroll``'s ``answer`` (the image or the text endpoint's): 201 when something new was
    stored, 200 with ``already_enrolled`` when the label already held every input and nothing
    was. ``extra`` fields that are None are left unset (so not shown: ``exclude_unset``)."""
    already = not ids
    if already:
        response.status_code = 200
    given = {k: v for k, v in extra.items() if v is not None}
    return answer(
        label=label, item_ids=ids, count=count, skipped=skipped, already_enrolled=already, **given
    )


async def label_count(engine: ServiceEngine, label: str) -> int:
    """How many items ``label`` has in the gallery (0 when it is not enrolled)."""
    return await engine.call(engine.label_count, label)


def gallery_info(stats: GalleryStats | None) -> GalleryInfo | None:
    """``/info``'s gallery part; ``None`` for a service without a gallery."""
    if stats is None:
        return None
    return GalleryInfo(num_items=stats.num_items, num_labels=stats.num_labels, index=stats.index)


def _finite(value: float, what: str, inputs: str = "images") -> float:
    if not math.isfinite(value):
        raise RequestError(400, f"The {what} is not a finite number for these {inputs}.")
    return float(value)


def _margin(threshold: float | None, distance: float) -> float | None:
    return None if threshold is None else float(threshold) - distance


def _verify_out(result: VerifyResult, inputs: str = "images") -> VerifyFields:
    distance = _finite(result.distance, "distance", inputs)
    return VerifyFields(
        same=result.same,
        distance=distance,
        threshold=result.threshold,
        margin=_margin(result.threshold, distance),
        label=result.label,
    )


def _match_out(
    m: Match,
    threshold: float | None,
    thumbnail: str | None,
    inputs: str = "images",
    source: str | None = None,
) -> MatchOut:
    """One ``/identify`` match with its margin to ``threshold`` (the image and the text endpoint;
    the text one adds the matched text; ``inputs`` names them in the refusal)."""
    distance = _finite(m.distance, "distance", inputs)
    return MatchOut(
        label=m.label,
        distance=distance,
        item_id=m.item_id,
        accepted=m.accepted,
        margin=_margin(threshold, distance),
        thumbnail=thumbnail,
        source=source,
    )


def _identify_out(
    result: IdentifyResult,
    thumbs: dict[int, bytes],
    threshold: float | None,
    sources: dict[int, str],
) -> IdentifyResponse:
    """``/identify``'s answer; ``sources``: the files the matched items were enrolled from
    (:meth:`~siamkit.index.Gallery.sources`)."""
    matches = [
        _match_out(
            m,
            threshold,
            data_url(thumbs[m.item_id]) if m.item_id in thumbs else None,
            source=sources.get(m.item_id),
        )
        for m in result.matches
    ]
    label = decided_label(result, threshold)
    return IdentifyResponse(threshold=threshold, label=label, matches=matches)


def decided_label(result: IdentifyResult, threshold: float | None) -> str | None:
    """``/identify``'s ``label``: the accepted best label, so ``None`` without a threshold, where
    the gallery names the nearest (which a client would read as an identity) and accepts none."""
    return None if threshold is None else result.label


def several_faces_notes(counts: list[int] | None, uploads: list[Upload]) -> list[str] | None:
    """The ``notes`` of a face model's answer: a sentence for each upload in which more than
    one face was found (its largest was used), as ``siamkit face`` prints; None when none."""
    from siamkit.applications.faces.recognize import several_faces_note

    found = [several_faces_note(n, u.name) for n, u in zip(counts or [], uploads)]
    return [note for note in found if note] or None


def _noted(out: VerifyFields, notes: list[str] | None) -> VerifyResponse:
    """The image service's answer: ``out`` with ``notes`` when there are any (set, so shown:
    ``response_model_exclude_unset``)."""
    given: dict[str, Any] = {"notes": notes} if notes else {}
    return VerifyResponse(**out.model_dump(), **given)


def no_face_hint(name: str) -> str:
    """A face model's ``/identify`` ``hint`` when no face was found in the photo ``name`` (an
    upload's words): the sentence with which ``/enroll`` refuses such a photo."""
    from siamkit.applications.faces.errors import NoFaceError, name_the_photo

    return str(name_the_photo(NoFaceError("", 0), [name]))
