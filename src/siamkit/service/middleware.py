"""Plain ASGI middleware: request-size cap, same-origin check for writes, security headers, and
the access log line (with the time each request took).

Written as raw ASGI (not ``BaseHTTPMiddleware``) so they cost a few microseconds per request and
can stop an oversized upload while it streams, before it is parsed or spooled to disk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

from siamkit.progress import human_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
        b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
]
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
INTERNAL_ERROR = "Internal error; the server log has the details under request id {id}."
"""The ``detail`` of every 500, whatever failed: it names no internals, only the id under
which the log holds the traceback (:func:`internal_error`)."""
log = logging.getLogger("siamkit.service")
access_log = logging.getLogger("siamkit.access")


async def _send_json(send: Send, status: int, detail: str | dict[str, str]) -> None:
    body = json.dumps(detail if isinstance(detail, dict) else {"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


@dataclass
class _RequestState:
    received: int = 0
    started: bool = False
    body_done: bool = False
    refusal: tuple[int, str] | None = None


class GuardMiddleware:
    """Refuse oversized bodies (413), cross-site writes (403); add security headers to answers;
    answer an error no handler took with 500 (:func:`internal_error`) and log its traceback
    once, as ``POST /x failed (id=...)``. A failure after the answer's status was sent (a
    streamed answer's) is logged alike and ends the answer there, cut short, which the server
    sees as such and closes the connection (passed on, it was logged twice more: by the
    app's last handler and by the server).

    Args:
        app: the wrapped ASGI app.
        max_body_bytes: largest request body; a larger ``Content-Length`` is refused at once,
            and a streamed body is cut off as soon as it passes the limit.
        body_timeout: longest wait, in seconds, for the next piece of a request body; a body
            that stalls longer is answered 408 and its connection closed.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout: float = 30.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refuse(scope)
        if refusal is not None:
            await _send_json(send, *refusal)
            return
        state = _RequestState()
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            if state.body_done:
                return await receive()  # e.g. waiting for a disconnect after the body
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except asyncio.TimeoutError:
                state.refusal = (408, _too_slow(self.body_timeout))
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                state.body_done = not message.get("more_body", False)
                state.received += len(message.get("body", b""))
                if state.received > limit:
                    state.refusal = (413, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if state.refusal is not None:  # replace whatever the app answers to a cut-off body
                if message["type"] == "http.response.start" and not state.started:
                    state.started = True
                    await _send_json(send, *state.refusal)
                return
            if message["type"] == "http.response.start":
                state.started = True
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if state.refusal is None:  # a bug or a failing model: one traceback, naming the request
                body = log_failure(scope)
                if state.started:  # half answered: the server closes the connection
                    scope[_CUT_SHORT] = True  # for the access line
                else:
                    await _send_json(send, 500, body)
            elif not state.started:
                await _send_json(send, *state.refusal)

    def _refuse(self, scope: Scope) -> tuple[int, str] | None:
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                return 400, "The Content-Length header is not a number."
            if int(length) > self.max_body_bytes:
                return 413, _too_large(self.max_body_bytes)
        if scope.get("method", "GET") not in _SAFE_METHODS and not _same_origin(scope):
            return (
                403,
                "Cross-origin request refused: send it from the service's own page or a client that sets no Origin.",
            )
        return None


_MADE_ID = "siamkit.request_id"
"""The scope key of the id :func:`internal_error` made up for a failed request that came
without one, so that its access line and its log lines name it as its answer does."""
_CUT_SHORT = "siamkit.cut_short"
"""The scope key GuardMiddleware sets when the service failed after the answer's status was
sent, for the access line (a client that goes away mid-answer also leaves it unfinished)."""


def request_id(scope: Scope) -> str | None:
    """The request's ``X-Request-ID`` (set by a balancer or the client, e.g. nginx's
    ``$request_id``) when it is up to 128 printable ASCII characters without spaces, or the one
    :func:`internal_error` made up for it; else None.

    >>> request_id({"headers": [(b"x-request-id", b"4f1c-9a")]}), request_id({"headers": []})
    ('4f1c-9a', None)
    """
    made = scope.get(_MADE_ID)
    if made is not None:
        return str(made)
    value = _header(scope, b"x-request-id")
    if value is None or not 0 < len(value) <= 128 or not value.isascii():
        return None
    return value if value.isprintable() and " " not in value else None


def internal_error(scope: Scope) -> dict[str, str]:
    """The body of a 500: ``{"detail": <a generic sentence>, "request_id": <id>}``, the id being
    the request's ``X-Request-ID`` (:func:`request_id`), or, for a request that came without
    one, a new one kept in the scope, so that the log lines of the request name it too.

    >>> internal_error({"headers": [(b"x-request-id", b"lb-7")]})["detail"]
    'Internal error; the server log has the details under request id lb-7.'
    """
    rid = request_id(scope)
    if rid is None:
        rid = scope[_MADE_ID] = uuid.uuid4().hex[:16]
    return {"detail": INTERNAL_ERROR.format(id=rid), "request_id": rid}


def log_failure(scope: Scope, exc: BaseException | None = None) -> dict[str, str]:
    """Log the request's failure with its traceback (``exc``, else the one being handled) as
    ``POST /identify failed (id=...)`` and return the 500's body (:func:`internal_error`),
    whose id the line names."""
    body = internal_error(scope)  # the id first: the log line names it too
    path = logged_path(scope)
    log.error(
        "%s %s failed (id=%s)", scope.get("method"), path, body["request_id"],
        exc_info=exc if exc is not None else True,
    )  # fmt: skip
    return body


class AccessLogMiddleware:
    """One log line per request, as uvicorn's access line with the time it took and its
    ``X-Request-ID``: ``127.0.0.1:5123 - "POST /enroll HTTP/1.1" 201 Created 12.4 ms id=4f1c``;
    a refusal (4xx) adds why, its answer's ``detail`` in double quotes on the same line, cut to
    :data:`REASON_CHARS` characters: ``... 400 Bad Request 3.1 ms reason="The image (file) is
    not a readable image; ..."``.

    The status is the one sent: a 500 for a failure the service answered; for one after its
    status went out (a streamed answer), that status, with ``failed="..."`` saying the answer
    was cut short.

    ``siamkit serve`` turns uvicorn's own access line off (it has no duration) and logs this one
    on ``siamkit.access`` at INFO (``--log-level warning`` hides both).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]  # what the server answers if the app raises before it starts
        refusal = bytearray()  # the start of a 4xx answer's body, for its reason

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            elif 400 <= status[0] < 500 and len(refusal) < _REFUSAL_BYTES:
                refusal.extend(message.get("body", b"")[: _REFUSAL_BYTES - len(refusal)])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            refused = 400 <= status[0] < 500 and access_log.isEnabledFor(logging.INFO)
            reason = _reason(bytes(refusal)) if refused else None
            cut = bool(scope.get(_CUT_SHORT))
            _log_access(scope, status[0], time.perf_counter() - start, reason, cut)


REASON_CHARS = 200
"""The longest reason (a 4xx answer's ``detail``) an access line shows; longer ones end in …."""
_REFUSAL_BYTES = 64 * 1024  # a 4xx body read for its detail: siamkit's are a few hundred bytes


def _reason(body: bytes) -> str | None:
    """A 4xx answer's ``detail`` for its access line: at most :data:`REASON_CHARS` characters,
    as a JSON string on one line (a detail can quote what the client sent, newlines and terminal
    escapes included: they are escaped, as every unprintable character); None for an answer
    without one.

    >>> _reason(b'{"detail": "Choose the image (file): it is required."}')
    '"Choose the image (file): it is required."'
    """
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):  # not JSON (or longer than read), or no JSON object
        return None
    if detail is None:
        return None
    text = detail if isinstance(detail, str) else json.dumps(detail)
    if len(text) > REASON_CHARS:
        text = text[: REASON_CHARS - 1] + "…"
    quoted = json.dumps(text, ensure_ascii=False)  # escapes quotes, newlines and C0 controls
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in quoted)  # U+2028...


def logged_path(scope: Scope) -> str:
    """The request's path for a log line, percent-encoded again as in uvicorn's access line: a
    ``%0A`` the client sent stays ``%0A``, so it cannot start a forged line of its own."""
    return quote(str(scope.get("path", "")))


CUT_SHORT_NOTE = '"the service failed after this status was sent; the answer was cut short"'
"""The ``failed=`` of an access line whose answer broke off after its status went out."""


def _log_access(
    scope: Scope, status: int, seconds: float, reason: str | None = None, cut: bool = False
) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    who = f"{client[0]}:{client[1]}" if client else "-"
    path = logged_path(scope)
    if scope.get("query_string"):
        path += "?" + scope["query_string"].decode("latin-1")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    rid = request_id(scope)
    access_log.info(
        '%s - "%s %s HTTP/%s" %d %s %.1f ms%s%s%s',
        who,
        scope.get("method", ""),
        path,
        scope.get("http_version", "1.1"),
        status,
        phrase,
        seconds * 1000,
        f" id={rid}" if rid else "",
        f" reason={reason}" if reason else "",
        f" failed={CUT_SHORT_NOTE}" if cut else "",
    )


def _too_large(limit: int) -> str:
    return f"The request body is larger than the limit of {human_bytes(limit)}; send smaller or fewer files."


def _too_slow(timeout: float) -> str:
    return f"The request body stalled for more than {timeout:g} s; send it again without pauses."


def _same_origin(scope: Scope) -> bool:
    """A browser's cross-site form post carries a foreign ``Origin``; non-browser clients send none."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    host = _header(scope, b"host")
    return origin != "null" and host is not None and urlsplit(origin).netloc.lower() == host.lower()
