"""The errors each endpoint can answer, for its OpenAPI entry (``responses=errors(...)``).

Each route lists only the statuses it can really return, with a description in its own words;
a new route (``/recommend``, text input) picks its codes here and adds a wording if needed.

>>> sorted(errors(404, label="an unknown label"))
[401, 404, 422]
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from siamkit.service.schemas import ErrorResponse, ServerErrorResponse

GENERIC = {
    400: "An upload that is not a readable image, an empty file, or another bad value.",
    401: "The X-API-Key header is missing or wrong (only when the service has a key).",
    403: "A write sent by another web site (cross-origin).",
    404: "The label is not enrolled.",
    408: "The upload stalled for longer than the service waits.",
    409: "The service was started without a gallery (--gallery FILE), or its gallery, which "
    "held no item, was taken over by another model (siamkit enroll with it) after it started, "
    "or the model it recorded enrolled items into it before the service's model did.",
    413: "A file, the request, or an image's size or pixel count is over the service's limits.",
    415: "The request has the wrong content type: a text model's service takes JSON with text "
    "fields, an image model's upload endpoints take multipart/form-data.",
    422: "A field is missing, unknown or has the wrong type (the message names it).",
    503: "The gallery cannot be read or written now (another process held its lock past "
    "SQLite's wait, or the disk is full): send the request again after the Retry-After header's "
    "seconds. Without Retry-After, sending it again will not help until the service's operator "
    "acts: the gallery file is damaged, its thumbnail file is unreadable, the service may not "
    "write or open them (read-only, not its user's, or moved), or SQLite has no temp folder the "
    "service may write (SQLITE_TMPDIR, TMPDIR, /var/tmp, /usr/tmp, /tmp and its working folder "
    "all missing or read-only); the message says which.",
    500: "The service failed, not the request: either its model made embeddings that hold NaN "
    "or infinite values (the message gives the model's refusal in a sentence, naming the rows or "
    "the fields sent and what cannot be done with them; sending the request again will not help "
    "until the service's operator checks the model), or another fault, answered 'Internal "
    "error'. Either way the server log names the request by its request_id.",
}
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before sending the request again; sent only with the 503 "
    "that a retry can mend.",
    "schema": {"type": "integer"},
}
"""The 503's ``Retry-After`` header in the OpenAPI docs (``siamkit.service.errors``)."""
QUERY_ONLY = "A query parameter was sent: this endpoint takes none."
"""The 422 of an endpoint that lists no 422 of its own: every endpoint refuses query parameters
it does not take (:data:`siamkit.service.route_checks.KNOWN_QUERY`)."""
UPLOAD = (400, 403, 408, 413, 415, 422)
"""What any endpoint that takes images can answer."""
MODEL = 500
"""What any endpoint that runs the model can answer: its NaN or infinite embeddings."""
VERIFY_LABEL = {
    "label": "The claimed label is not enrolled.",
    "nogallery": "A label was sent but the service has no gallery, or its gallery, which held "
    "no item, was taken over by another model (siamkit enroll with it) after it started, or "
    "the model it recorded enrolled items into it before the service's model did.",
}
"""``/verify``'s wording for a check against an enrolled label (the image and the text endpoint)."""


def enrolled_before(answer: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """``/enroll``'s other success, answered with ``answer`` (the image and the text endpoint
    each give its own; 201 when something was stored)."""
    return {
        200: {
            "model": answer,
            "description": "The label already held every input (enrolled before): nothing was "
            "stored, `already_enrolled` is true and `item_ids` empty.",
        }
    }


def errors(*codes: int, **wording: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: 401 and 422 plus ``codes``; ``wording`` overrides a
    description (a 422 not in ``codes``: only for query parameters, :data:`QUERY_ONLY`).

    ``wording`` keys are words naming the status: ``bad``, ``cross``, ``label``, ``slow``,
    ``nogallery``, ``large``, ``field`` (for 400, 403, 404, 408, 409, 413, 422).

    A route that reads or writes the gallery lists 503 (the errors of
    :mod:`siamkit.service.errors`: the retryable one, with its ``Retry-After`` header, and the
    ones only the operator mends); the OpenAPI docs listed it on no route. A route that runs
    the model lists 500 (:data:`MODEL`): its model's NaN or infinite embeddings, answered in a
    sentence (``siamkit.service.errors``), which the docs listed on none (s54_RR1).
    """
    names = {
        "bad": 400,
        "cross": 403,
        "label": 404,
        "slow": 408,
        "nogallery": 409,
        "large": 413,
        "field": 422,
    }
    text = dict(GENERIC)
    if 422 not in codes:
        text[422] = QUERY_ONLY
    for key, value in wording.items():
        text[names[key]] = value
    out: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse, "description": text[code]}
        for code in sorted({401, 422, *codes})
    }
    if 503 in out:
        out[503]["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
    if 500 in out:  # its body names the request's id, which the log names
        out[500]["model"] = ServerErrorResponse
    return out
