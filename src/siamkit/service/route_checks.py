"""The checks every endpoint runs: its labels, its ``k``, and the form fields and query
parameters it does not take or was sent twice (the image and the text endpoints)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_origin

from fastapi import Depends, Request

from siamkit.index.store import looks_like_item_id, unprintable_char
from siamkit.registry import did_you_mean
from siamkit.service.engine import ServiceEngine
from siamkit.service.errors import RequestError

IMAGE_LABEL = "a name such as 'alice'"
TEXT_LABEL = "a label such as 'T-1042' (a ticket id)"
"""What an empty label's refusal says to give: people and objects in images are named, texts
are labelled as on the text page (its example label, a ticket id)."""


def label_example(engine: ServiceEngine) -> str:
    """What an empty label's refusal suggests for the service's model: a text model's
    :data:`TEXT_LABEL`, else :data:`IMAGE_LABEL`."""
    return TEXT_LABEL if engine.input_kind == "text" else IMAGE_LABEL


def check_label(label: str, max_chars: int, example: str = IMAGE_LABEL) -> str:
    """A label from a form or path: printable, 1 to ``max_chars`` characters, outer spaces
    dropped; an empty one is refused suggesting ``example`` (:func:`label_example`)."""
    if len(label) > max_chars:
        raise RequestError(
            422, f"The label has {len(label):,} characters; at most {max_chars} are allowed."
        )
    label = label.strip()
    if not label:
        raise RequestError(422, f"The label is empty; give {example}.")
    problem = unprintable_char(label)
    if problem is not None:
        raise RequestError(422, f"The label contains {problem}; remove it.")
    return label


def check_new_label(label: str, max_chars: int, example: str = IMAGE_LABEL) -> str:
    """A label to enroll under: as :func:`check_label`, and not ``.`` or ``..``, which a browser
    (and most HTTP clients) fold away as path steps, so ``DELETE /gallery/{label}`` could never
    name it: the page's remove would remove nothing, or answer 405."""
    label = check_label(label, max_chars, example)
    if label in (".", ".."):
        raise RequestError(
            422,
            f"The label '{label}' cannot be used: web addresses drop '.' and '..', so it "
            "could not be removed later; choose another name.",
        )
    if looks_like_item_id(label):  # '#12' names item 12 in /recommend's likes: it would hide it
        raise RequestError(
            422,
            f"The label '{label}' looks like an item id: '#' followed by digits names one item "
            f'in /recommend\'s "like" ("#12"), so choose another name, such as '
            f"'item-{label[1:]}'.",
        )
    return label


def check_k(k: int, max_k: int) -> None:
    """``/identify``'s ``k``: 1 to ``max_k`` matches (the image and the text endpoint)."""
    if not 1 <= k <= max_k:
        raise RequestError(
            422, f"The number of matches (k) must be between 1 and {max_k}, got {k}."
        )


def get_engine(request: Request) -> ServiceEngine:
    """The app's :class:`ServiceEngine` (a FastAPI dependency)."""
    engine: ServiceEngine = request.app.state.engine
    return engine


Engine = Annotated[ServiceEngine, Depends(get_engine)]


FORM_KINDS = ("multipart/form-data", "application/x-www-form-urlencoded")


UNKNOWN_WORDS = {"form": ("form field", "fields"), "query": ("query parameter", "query parameters")}
"""How :func:`unknown_fields` names one of what it checks, and all of them."""


def route_fields(request: Request, where: Literal["form", "query"]) -> list[Any] | None:
    """The form fields (``where="form"``) or query parameters (``"query"``) of the request's
    route, as FastAPI read them from its signature; ``None`` outside a route."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return None
    return list(dependant.body_params if where == "form" else dependant.query_params)


def _route_path(request: Request) -> str:
    """The route's path as a person writes it: ``/gallery/{label}``, not ``{label:path}``."""
    path = getattr(request.scope.get("route"), "path", "this endpoint")
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def _takes_none(request: Request, unknown: list[str]) -> str:
    """What to do with query parameters sent to an endpoint that takes none: the fields of its
    body (form or JSON) go there, and a path's label writes a '?' of its own as %3F."""
    body = route_fields(request, "form") or []
    names = {p.alias for p in body}
    for p in body:  # a JSON body: its model's keys
        names.update(getattr(p.field_info.annotation, "model_fields", {}))
    if any(name in names for name in unknown):
        return "send it in the request body instead"
    route = request.scope.get("route")
    if getattr(getattr(route, "dependant", None), "path_params", None):
        return "remove it from the address (a '?' that is part of the label is written %3F)"
    return "remove it from the address"


def unknown_fields(
    request: Request, sent: list[str], where: Literal["form", "query"] = "form"
) -> None:
    """422 for a form field (``where="form"``) or a query parameter (``"query"``) the endpoint
    does not take (``lable=alice``, ``?lable=alice``, ``/gallery?label=alice``), naming it, the
    closest accepted one and all of them: dropped, the request ran without it and stored or
    answered as if it was never sent (the JSON bodies refuse unknown keys alike:
    :class:`JsonBody`)."""
    params = route_fields(request, where)
    if params is None:
        return
    accepted = [p.alias for p in params]
    unknown = [name for name in dict.fromkeys(sent) if name not in accepted]
    if not unknown:
        return
    noun, all_of_them = UNKNOWN_WORDS[where]
    names = ", ".join(f"'{name}'" for name in unknown)
    one = len(unknown) == 1
    path = _route_path(request)
    if not accepted:
        were = f"{noun} {names} was sent" if one else f"{noun}s {names} were sent"
        todo = _takes_none(request, unknown)
        todo = todo if one else todo.replace(" it ", " them ", 1)
        raise RequestError(422, f"The {were}, but {path} takes none: {todo}.", field=unknown)
    what = f"{noun} {names} is not one" if one else f"{noun}s {names} are not ones"
    raise RequestError(
        422,
        f"The {what} {path} takes{did_you_mean(unknown, accepted)}; its {all_of_them} are "
        f"{', '.join(accepted)}.",
        field=unknown,
    )


def sent_twice(request: Request, values: Any, where: Literal["form", "query"] = "form") -> None:
    """422 for a form field or query parameter of the route that takes one value and was sent
    more than once (``values``: the form or ``request.query_params``): only the last one was
    used, silently. Fields that take a list (``files``) may repeat."""
    for p in route_fields(request, where) or []:
        if get_origin(p.field_info.annotation) is list:
            continue
        count = len(values.getlist(p.alias))
        if count > 1:
            if where == "query":
                raise RequestError(
                    422,
                    f"The query parameter {p.alias} was sent {count} times; send it once.",
                    field=p.alias,
                )
            raise RequestError(
                422,
                f"The field {p.alias} was sent {count} times; send it once (one request per "
                "query image; /enroll and /embed take several files).",
                field=p.alias,
            )


async def _known_query(request: Request) -> None:
    """A query parameter an endpoint does not take was dropped silently (``/gallery/images?
    lable=alice`` ran without a label, ``/gallery?label=alice`` listed everyone, ``DELETE
    /gallery/alice?force=1`` removed alice), and one sent twice used its last value: 422 by
    name, as a form's."""
    unknown_fields(request, list(request.query_params.keys()), "query")
    sent_twice(request, request.query_params, "query")


KNOWN_QUERY = [Depends(_known_query)]
"""``dependencies=`` of every router of endpoints (the image and the text one)."""
LABEL_QUERY = (
    "The label query parameter is missing, unusable or sent twice, or a query parameter is unknown."
)
"""``/gallery/images``'s 422 (the image and the text endpoint)."""
