"""``POST /recommend``: more like the liked labels or items (the image and the text service
share it; :mod:`siamkit.service.routes` adds this router's route to its own)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from siamkit.clauses import listing
from siamkit.index import Match
from siamkit.service.engine import ServiceEngine
from siamkit.service.errors import RequestError
from siamkit.service.recommend_schemas import RecommendRequest, RecommendResponse
from siamkit.service.responses import errors
from siamkit.service.route_answers import _finite
from siamkit.service.route_checks import (
    KNOWN_QUERY,
    Engine,
    check_k,
    check_label,
    label_example,
)
from siamkit.service.thumbnails import data_url

recommend_router = APIRouter(dependencies=KNOWN_QUERY)
"""``/recommend``, which :data:`siamkit.service.routes.router` serves last (after ``/info``)."""


async def _json_only(request: Request) -> None:
    """``/recommend`` reads a JSON body: a form (or ``curl -d``, which labels JSON as a form) got
    pydantic's "Request should be a valid dictionary ..." with no word of JSON, as did JSON
    sent with no content type (FastAPI reads a body as JSON only when it is labelled so)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (
        kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))
    ):
        raise RequestError(
            415,
            "Send /recommend a JSON body with the content type application/json, e.g. curl -H "
            '\'content-type: application/json\' -d \'{"like": ["alice"], "k": 10}\'.',
        )


@recommend_router.post(
    "/recommend",
    dependencies=[Depends(_json_only)],
    response_model=RecommendResponse,
    response_model_exclude_unset=True,  # `text` only from a text model's service, `thumbnail`
    # only from an image model's
    tags=["recognition"],
    responses=errors(
        400,
        404,
        409,
        503,
        415,
        422,
        bad="A distance that is not a finite number (a broken model).",
        label="A liked label or #ID is not in the gallery, or the gallery is empty.",
        field="like is missing, empty or not a list of strings, a key is unknown, k is not a "
        "whole number from 1 to the limit, or a '#ID' is also a label an older siamkit enrolled "
        "(the message says how to like either).",
    ),
)
async def recommend(engine: Engine, body: RecommendRequest) -> RecommendResponse:
    """More like these: the `k` gallery items nearest to any liked item (liked ones excluded),
    each with its source file and its thumbnail (an image model's) or text (a text model's)."""
    from siamkit.service.recommend_schemas import RecommendedItem

    check_k(body.k, engine.limits.max_k)
    likes = [
        check_label(like, engine.limits.max_label_chars, label_example(engine))
        for like in body.like
    ]
    matches = await engine.call(_recommend, engine, likes, body.k, body.per_label)
    ids = [m.item_id for m in matches]
    sources = await engine.call(engine.gallery.sources, ids)
    items = [
        RecommendedItem(
            label=m.label,
            item_id=m.item_id,
            distance=_finite(m.distance, "distance"),
            source=sources.get(m.item_id),
        )
        for m in matches
    ]
    found = await engine.call(engine.thumbnails.get, ids)
    for item in items:  # each item's text or thumbnail, as /identify's matches show it
        kept = found.get(item.item_id)
        if engine.input_kind == "text":
            item.text = None if kept is None else kept.decode("utf-8", "replace")
        else:
            item.thumbnail = None if kept is None else data_url(kept)
    return RecommendResponse(items=items)


def _recommend(engine: ServiceEngine, likes: list[str], k: int, per_label: bool) -> list[Match]:
    """``/recommend``'s search (compute thread), refusing in the other routes' words: an unknown
    label in :func:`~siamkit.service.engine.unknown_label_sentence`'s, with the ``#ID`` hint."""
    from siamkit.index.recommend import (
        AmbiguousLikeError,
        UnknownItemError,
        UnknownLikedLabelError,
        recommend_like,
    )

    things = "texts" if engine.input_kind == "text" else "images"
    if len(engine.gallery) == 0:  # every like is unknown: say why, not which
        raise RequestError(
            404,
            f"The gallery is empty, so there is nothing to recommend: POST /enroll labelled "
            f"{things} first.",
        )
    for like in likes:  # '#x': not a label, nor a number (checked here, so that a ValueError
        # from inside the search is a bug's 500, not the client's 422)
        if like.startswith("#") and like not in engine.gallery and not _is_int(like[1:]):
            raise RequestError(422, f"{like!r}: an item id is written #ID, e.g. #12.")
    try:
        return recommend_like(engine.gallery, likes, k, per_label=per_label)
    except UnknownLikedLabelError as err:
        sentence = engine.not_enrolled(err.label).detail.removesuffix(".")
        raise RequestError(
            404,
            f"{sentence}, or like one item as '#ID' with an item_id that /identify or "
            "/recommend answered.",
        ) from None
    except UnknownItemError as err:
        ids = err.item_ids
        which = f"Item {ids[0]} is" if len(ids) == 1 else f"Items {listing(ids)} are"
        raise RequestError(
            404,
            f"{which} not in the gallery; like an item_id that /identify or /recommend "
            "answered ('#12'), or a label (GET /gallery lists them).",
        ) from None
    except AmbiguousLikeError as err:  # '#12': both item 12 and a label an old siamkit enrolled
        raise RequestError(422, f"{err}.") from None


def _is_int(text: str) -> bool:
    """Whether ``text`` reads as a whole number the way the liked ``#ID`` is read (``int``)."""
    try:
        int(text)
    except ValueError:
        return False
    return True
