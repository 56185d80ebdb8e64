"""Every refusal becomes JSON ``{"detail": "<a sentence>"}`` with a 4xx status, never a traceback;
every failure of the service itself a 500 with a generic body and its traceback in the log.

* :class:`RequestError` — raised by the service's own checks, carries its status code (and
  the field it is about, if any, in ``errors`` like a validation error's). It is the only way
  a request is told that it was wrong: the routes check what the client sent, and turn the
  library's typed refusals (an unknown label, no face in a photo, an ambiguous like) into one.
* FastAPI's validation errors (missing field, ``k="abc"``, text where a file is expected) become
  a 422 whose ``detail`` says in words what to fix ("Choose the first image (file_a)."), with
  the field names in ``errors`` for programs.
* The gallery's ``GalleryMismatchError`` in a request (another model took the gallery over
  while it held no item: an enrollment, a search, a listing or a removal) becomes a 409 saying
  so (:data:`TAKEN_OVER`); where the service's model was to take over a gallery that held no
  item and the model it records enrolled first, a 409 saying that
  (:data:`RECORDED_MODEL_ENROLLED`).
* The service's model making embeddings that hold NaN or infinite values
  (``UnrankableEmbeddingsError``, whichever model: image, face or text) is a 500 whose body
  carries the refusal's sentence, the model's fault, not the client's, logged as an error
  (:func:`unrankable_detail`).
* SQLite unable to read or write the gallery now (a lock held past the wait, a full disk)
  becomes a 503 naming SQLite's reason, the one 503 a client may retry: it alone sends
  ``Retry-After`` (:data:`RETRY_AFTER_S`). SQLite refusing the gallery's files until the
  operator acts (read-only, no permission, cannot open them while they are not there or not
  writable) is a 503 without it, saying what the operator makes writable
  (:data:`GALLERY_UNWRITABLE`). SQLite finding no temp folder it may write is a 503 without
  it too, naming the temp folders as what the operator makes writable (:data:`NO_TEMP_FOLDER`).
* The gallery's ``GalleryDamagedError`` (its file was cut short or overwritten in part while
  the service ran, or holds an item's embedding of the wrong size or with NaN or infinite
  values) becomes a 503 saying so and naming ``siamkit gallery FILE check`` for the operator
  (:data:`GALLERY_DAMAGED`), without the server's paths, which the log gives, and without
  ``Retry-After``: no retry helps.
* The thumbnail file beside the gallery (``shop.db.thumbs``) found damaged or not a thumbnail
  file at all (another program's file at its place), ``ThumbnailsUnreadableError``, becomes a
  503 of its own (:data:`THUMBNAILS_UNREADABLE`): the gallery is sound, and the operator moves
  that file aside; no server path and no ``Retry-After`` either.
* Anything else (a ``ValueError`` or ``TypeError`` from deep inside a model, a plug-in or the
  gallery included) is a bug, not the client's mistake: a 500 whose body names the request's
  id (its ``X-Request-ID``, or one made up for it) and says the log has the details, with the
  traceback logged once, naming the request and that id, by GuardMiddleware.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from siamkit.clauses import counted, listed
from siamkit.service.middleware import internal_error, log_failure, logged_path, request_id

log = logging.getLogger("siamkit.service")


class RequestError(Exception):
    """A request the service refuses, with the HTTP status and a message for the user; ``field``
    (``texts[2]``, or several: unknown form fields), when given, names the request field for
    programs, in the answer's ``errors`` as a validation error's (the message names it in the
    user's words)."""

    def __init__(self, status_code: int, detail: str, field: str | list[str] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.field = field


def not_found(err: LookupError) -> RequestError:
    """A 404 with the lookup error's own message (``str()`` of a ``KeyError`` adds quotes, and
    stripping them cut the quote off a message that starts with a quoted label)."""
    return RequestError(404, str(err.args[0]) if err.args else "Not found.")


FIELD_WORDS = {
    "file": "the image",
    "file_a": "the first image",
    "file_b": "the second image",
    "files": "the images",
    "label": "the label",
    "k": "the number of matches",
    "text": "the text",
    "text_a": "the first text",
    "text_b": "the second text",
    "texts": "the texts",
    "like": "the liked labels or #IDs",
}
"""How the messages name each form field (a new field adds its words here)."""


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


def _message(err: dict[str, Any]) -> str:
    kind = str(err.get("type", ""))
    msg = str(err.get("msg") or "has an invalid value")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return UNKNOWN_FIELD
    if "UploadFile" in msg or "upload" in kind:
        return "must be an uploaded file (multipart/form-data with a filename)"
    if kind.startswith("int_"):
        return "must be a whole number (integer), such as 5"
    if kind == "list_type":
        return 'must be a JSON list, such as ["alice", "#12"]'
    if kind == "string_type":  # {"like": [3]}: pydantic said "should be a valid string"
        loc = [p for p in err.get("loc", ()) if p != "body"]
        first = str(loc[0]) if loc else ""
        example = {"like": '"alice" or "#12"', "label": '"alice"'}.get(
            first, '"The printer is out of toner."' if first.startswith("text") else '"alice"'
        )
        return f"must be text in double quotes (a JSON string), such as {example}"
    ctx = err.get("ctx") or {}
    if kind == "too_short" and "min_length" in ctx:
        return f"must have at least {counted(int(ctx['min_length']), 'item')}"
    if kind == "too_long" and "max_length" in ctx:
        return f"must have at most {counted(int(ctx['max_length']), 'item')}"
    if msg.startswith("Input should"):  # pydantic's "Input should be ..." after the field's name
        msg = msg[len("Input ") :]
    return msg[0].lower() + msg[1:]


UNKNOWN_FIELD = "is not a field this endpoint takes"


def _sentence(field: str, message: str) -> str:
    if message == UNKNOWN_FIELD:  # a misspelt JSON key: the user's spelling, as sent
        return (
            f"The field '{field}' is not one this endpoint takes; check its name (the API docs "
            "at /docs list the fields)."
        )
    words = FIELD_WORDS.get(field.split(".")[0])
    name = f"{words} ({field})" if words else field
    if message == "is required":
        verb = "Choose" if "image" in name else "Give"
        return f"{verb} {name}: it is required."
    return f"{name[0].upper()}{name[1:]} {message}."


def _json_invalid(err: dict[str, Any]) -> str:
    reason = str((err.get("ctx") or {}).get("error") or "").strip()
    return "The request body is not valid JSON" + (f" ({reason})." if reason else ".")


NOT_AN_OBJECT = (
    'The request body must be a JSON object of fields in braces ({"name": value, ...}), not a '
    "list, a string or a number; the API docs at /docs list each endpoint's fields."
)
"""A JSON body that is valid JSON but no object (``[1, 2]``, ``"x"``): pydantic said "Request
should be a valid dictionary or object to extract fields from"."""


def validation_detail(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """Sentences saying what to fix, plus ``[{"field", "message"}]`` for programs."""
    bad_json = [e for e in errors if e.get("type") == "json_invalid"]
    if bad_json:  # loc is ("body", <character offset>): no field to name
        text = _json_invalid(bad_json[0])
        return text, [{"field": "body", "message": text}]
    if any(
        e.get("type") in ("model_attributes_type", "dict_type", "model_type")
        and _field(e.get("loc", ())) == "request"
        for e in errors
    ):  # the whole body is of the wrong kind: no field to name either
        return NOT_AN_OBJECT, [{"field": "body", "message": NOT_AN_OBJECT}]
    items = [{"field": _field(e.get("loc", ())), "message": _message(e)} for e in errors]
    text = " ".join(_sentence(i["field"], i["message"]) for i in items)
    return text or "The request is not a valid form.", items


async def _on_request_error(_: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, RequestError) else 400
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, RequestError) and exc.field is not None:
        fields = [exc.field] if isinstance(exc.field, str) else exc.field
        body["errors"] = [{"field": f, "message": str(exc)} for f in fields]
    return JSONResponse(body, status_code=status)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    errors = list(exc.errors()) if isinstance(exc, RequestValidationError) else []
    detail, items = validation_detail(errors)
    return JSONResponse({"detail": detail, "errors": items}, status_code=422)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 ("Not Found", "Method Not Allowed") as sentences naming the
    path and what to do; other HTTP errors keep their detail."""
    from fastapi.exception_handlers import http_exception_handler

    assert isinstance(exc, StarletteHTTPException)
    status, headers, detail, path = exc.status_code, exc.headers, str(exc.detail), request.url.path
    if status not in (404, 405):
        return await http_exception_handler(request, exc)
    if status == 405:
        allowed = listed(
            [m.strip() for m in (headers or {}).get("Allow", "").split(",") if m], "or"
        )
        takes = (
            f"takes {allowed}, not {request.method}"
            if allowed
            else f"does not take {request.method}"
        )
        detail = f"{path} {takes} (the API reference is at /docs)."
    elif status == 404 and detail == "Not Found":
        detail = f"There is no endpoint {path}; the endpoints are listed at /docs."
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """What no other handler took; GuardMiddleware answers it first (one traceback), so this is
    the answer of an app without it, and of a gallery failure that is a bug
    (:func:`_on_gallery_failure`): a 500 naming the request's id, as the log line does."""
    return JSONResponse(log_failure(request.scope, exc), status_code=500)


#: SQLite's error names (``sqlite_errorname``, by prefix) for a gallery that cannot be read or
#: written now and may be later: a lock held, a full disk, a failed read or write.
_GALLERY_STATES = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_PROTOCOL",
)

#: SQLite's error names for a gallery file that the service may not write or open: read-only
#: (a file, folder or disk made read-only), no permission, or a file it cannot open (its folder
#: moved or its permissions changed). Waiting does not change them, the operator does
#: (:data:`GALLERY_UNWRITABLE`); they were the retryable 503, whose ``Retry-After`` had a
#: client retry a write that could never succeed. ``SQLITE_CANTOPEN`` is one only while the
#: files are not there or not writable (:func:`_files_writable`): out of file descriptors, it
#: is the retryable 503. So is a temp file SQLite cannot create (a large sort or temp table):
#: it skips a temp folder it may not write (``SQLITE_TMPDIR``, ``TMPDIR``, /var/tmp, ...), and
#: none left is ``SQLITE_IOERR_GETTEMPPATH`` (:data:`NO_TEMP_FOLDER`), so its
#: ``SQLITE_CANTOPEN`` means a folder out of inodes or a process out of descriptors, which pass
#: as a full disk does (checked as nobody with SQLite 3.40: s55_c2).
_GALLERY_REFUSALS = ("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN")

GALLERY_UNWRITABLE = (
    "The service may not write or open its gallery files ({reason}): the gallery file, the "
    "files beside it (its -wal, -shm and .thumbs files) or their folder are read-only, or the "
    "service's user may not write them, or they were moved; sending the request again will "
    "not help until the operator makes them writable by the service's user again (or mounts "
    "their disk read-write), or restarts the service where they were moved (the server log "
    "names the file)."
)
"""The 503 of a write (or an open) the gallery's files refuse until the operator acts: no
``Retry-After``, as for the damaged gallery, and a sentence saying what the operator fixes;
``{reason}`` is SQLite's (``attempt to write a readonly database``, which names no path)."""


NO_TEMP_FOLDER = (
    "The service has no temp folder it may write, where SQLite keeps the temp files of a large "
    "sort or search ({reason}): SQLITE_TMPDIR, TMPDIR, /var/tmp, /usr/tmp, /tmp and the "
    "service's working folder are all missing, read-only or not writable by the service's "
    "user; sending the request again will not help until the operator makes one of them "
    "writable by that user (or sets SQLITE_TMPDIR to a folder it may write and restarts the "
    "service)."
)
"""The 503 of SQLite's ``SQLITE_IOERR_GETTEMPPATH``: SQLite looked for a folder to write a temp
file in and found none it may write. A disk I/O error by SQLite's message, it was the retryable
503 ("send the request again later", with ``Retry-After``), though no retry finds a folder the
operator has not made writable, and that sentence named no folder (final reader's note of stop
55). No ``Retry-After``, as for :data:`GALLERY_UNWRITABLE`; SQLite reads ``SQLITE_TMPDIR`` and
``TMPDIR`` once, when the process starts, hence the restart. Python 3.10 names no error, and its
``disk I/O error`` stays the retryable 503 there."""


RETRY_AFTER_S = 10
"""The ``Retry-After`` (seconds) of the one 503 a client may retry (:func:`_on_gallery_failure`):
SQLite waited 30 s for the lock already, so an immediate retry would mostly wait again. The
503s of a damaged file (:data:`GALLERY_DAMAGED`, :data:`THUMBNAILS_UNREADABLE`) send none: no
retry helps them, and a client told so by the standard header (urllib3's ``Retry`` retries a
503 only with one) stops instead of retrying a file only the operator can mend."""


async def _on_gallery_failure(request: Request, exc: Exception) -> JSONResponse:
    """SQLite could not read or write the gallery (the disk is full, another process held its
    lock past the 30 s wait): 503, which a client may retry (its ``Retry-After`` says when,
    :data:`RETRY_AFTER_S`), in a sentence naming SQLite's reason, and the reason in the log for
    the operator (with the traceback, should it be a bug's). SQLite refusing the files until
    the operator acts (read-only, no permission, cannot open) is :data:`GALLERY_UNWRITABLE`,
    which a client may not retry. An OperationalError SQLite names as no such state (``no such
    column``, a syntax error: a bug) is a 500, as any other failure, on Python 3.10 too
    (:func:`sqlite_error_name`)."""
    name = sqlite_error_name(exc) or ""
    if name.startswith("SQLITE_CANTOPEN") and _files_writable(request):
        name = "SQLITE_IOERR"  # the files are there and writable: out of descriptors for now
    if name.startswith(_GALLERY_REFUSALS):
        return _unwritable(request, exc, str(exc))
    if name == "SQLITE_IOERR_GETTEMPPATH":
        return _no_temp_folder(request, exc)
    if not name.startswith(_GALLERY_STATES):
        return await _on_unexpected(request, exc)
    rid = request_id(request.scope)
    said = f" (id={rid})" if rid else ""
    path = logged_path(request.scope)
    log.error("%s %s failed%s: the gallery: %s", request.method, path, said, exc, exc_info=exc)
    return JSONResponse(
        {
            "detail": f"The gallery could not be read or written ({exc}); send the request "
            "again later (the server log says the same to its operator)."
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


#: SQLite's fixed message of each error code that :func:`_on_gallery_failure` tells apart
#: (``sqlite3ErrStr``; a code's extended codes say their primary code's), by which Python 3.10,
#: whose errors carry no ``sqlite_errorname``, tells them.
_SQLITE_TEXTS = {
    "attempt to write a readonly database": "SQLITE_READONLY",
    "access permission denied": "SQLITE_PERM",
    "unable to open database file": "SQLITE_CANTOPEN",
    "database is locked": "SQLITE_BUSY",
    "database table is locked": "SQLITE_LOCKED",
    "database schema is locked": "SQLITE_LOCKED",
    "database or disk is full": "SQLITE_FULL",
    "disk I/O error": "SQLITE_IOERR",
    "locking protocol": "SQLITE_PROTOCOL",
}


def sqlite_error_name(exc: BaseException) -> str | None:
    """SQLite's name of the error ``exc`` (``SQLITE_READONLY_DBMOVED``): its
    ``sqlite_errorname``, which sqlite3 sets from Python 3.11 on, else, on Python 3.10, the
    primary code whose fixed message ``exc`` says (a locked table's names the table after a
    colon); None for another message (``no such column: x``, a bug's).

    Read from the attribute alone, every 3.10 error was nameless, and answered the retryable
    503: a read-only gallery kept its ``Retry-After`` there (s54_R2 finding 2).

    >>> import sqlite3
    >>> sqlite_error_name(sqlite3.OperationalError("attempt to write a readonly database"))
    'SQLITE_READONLY'
    """
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:
        return str(name)
    return _SQLITE_TEXTS.get(str(exc).split(":")[0].strip())


def _files_writable(request: Request) -> bool:
    """Whether the service's gallery file, its folder and the files SQLite keeps beside it
    (``-wal``, ``-shm``, the ``.thumbs`` file and its own), where present, are there and
    writable by the service's user (``os.access``: a read-only mount, ``chattr +i`` and the
    permissions all say no).

    SQLite's ``SQLITE_CANTOPEN`` names no reason: a file moved or made unwritable, which only
    the operator mends, or a process out of file descriptors for a moment (``EMFILE``: a
    flood of connections, a leak elsewhere), which passes as they close, and the same
    request answers again. It was always the first (e1c94479), so a client was told no retry
    helps and the operator sent to look for read-only files that were not (s54_R2 finding 1);
    the files decide it now."""
    engine = getattr(request.app.state, "engine", None)
    file = getattr(engine, "_gallery_file", None)
    if file is None:
        return False
    path = Path(file).resolve()
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        return False
    beside = [f"{path}{end}" for end in ("-wal", "-shm", ".thumbs", ".thumbs-wal", ".thumbs-shm")]
    return all(os.access(f, os.W_OK) for f in beside if os.path.lexists(f))


def _unwritable(request: Request, exc: Exception, reason: str) -> JSONResponse:
    """:data:`GALLERY_UNWRITABLE` for ``exc``: a 503 without ``Retry-After``, and the error in
    the log for the operator, naming the gallery file, with no traceback, as it is no bug."""
    rid = request_id(request.scope)
    said = f" (id={rid})" if rid else ""
    file = getattr(getattr(request.app.state, "engine", None), "_gallery_file", None)
    log.error(
        "%s %s failed%s: the gallery %s or a file beside it: %s",
        request.method, logged_path(request.scope), said, file, exc,
    )  # fmt: skip
    return JSONResponse({"detail": GALLERY_UNWRITABLE.format(reason=reason)}, status_code=503)


def _no_temp_folder(request: Request, exc: Exception) -> JSONResponse:
    """:data:`NO_TEMP_FOLDER` for ``exc``: a 503 without ``Retry-After``; the log names the
    folders the service's environment gives SQLite (``SQLITE_TMPDIR``, ``TMPDIR``) and its
    working folder, with no traceback, as it is no bug. It gives the environment's values as
    they are now and says so: SQLite read them once, when the service started, so a value set
    since inside the process is not where it looked (s56_R4 suspicion 5)."""
    rid = request_id(request.scope)
    said = f" (id={rid})" if rid else ""
    env = ", ".join(f"{k}={os.environ.get(k)!r}" for k in ("SQLITE_TMPDIR", "TMPDIR"))
    try:
        cwd = os.getcwd()
    except OSError:  # the working folder was removed
        cwd = "(removed)"
    log.error(
        "%s %s failed%s: SQLite found no temp folder it may write (%s in the environment now, "
        "which SQLite read at start; /var/tmp, /usr/tmp, /tmp, working folder %s): %s",
        request.method, logged_path(request.scope), said, env, cwd, exc,
    )  # fmt: skip
    return JSONResponse({"detail": NO_TEMP_FOLDER.format(reason=exc)}, status_code=503)


GALLERY_DAMAGED = (
    "The service's gallery file is damaged (SQLite cannot read what it holds, or an item's "
    "stored embedding is of the wrong size or holds NaN or infinite values); sending the request "
    "again will not help until the operator runs `siamkit gallery FILE check` on the gallery "
    "file and removes the items it names, where it names some (`siamkit gallery FILE remove "
    "--id N`, or DELETE /gallery/items/N), or restores it from a backup, or enrolls again into "
    "a new gallery file (the server log names the file)."
)
"""The 503 of a request that met a damaged gallery file
(:class:`~siamkit.index.store.GalleryDamagedError`: cut short, or overwritten in part, while
the service ran, or an item's embedding of the wrong size, or with NaN or infinite values,
written by another program). Removing the items the check names mends the last two, and
loses nothing else; restoring or enrolling again loses what was enrolled since the backup, or
everything, so the sentence offers it too (reviewer s53_R4 finding 3)."""


def _operator_must_mend(detail: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """The handler of a file of the server's that cannot be read (the gallery damaged, its
    thumbnail side file unreadable): not the client's mistake, nor a bug, but a file only the
    operator can mend. A 503 with ``detail``, a sentence without the server's paths, and no
    ``Retry-After``, which tells it from the 503 a client may retry; the log line gives the
    operator the file and what to do (the error's own sentence), with no traceback, as it is
    no bug.

    Answered as any error, it was a 500 "Internal error" that told neither the client nor, in
    its place, anything beyond a traceback."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request.scope)
        said = f" (id={rid})" if rid else ""
        log.error("%s %s failed%s: %s", request.method, logged_path(request.scope), said, exc)
        return JSONResponse({"detail": detail}, status_code=503)

    return handler


THUMBNAILS_UNREADABLE = (
    "The thumbnail file kept beside the service's gallery (the gallery file's name with "
    '".thumbs" added) is damaged, or is not a siamkit thumbnail file, so it cannot be read; '
    "the gallery itself is sound, but sending the request again will not help until the "
    "operator moves that file aside and restarts the service, which makes a new one, without "
    "the thumbnails (a text model's previews) of the items enrolled so far (the server log "
    "names the file)."
)
"""The 503 of a request that met the gallery's thumbnail side file unreadable
(:class:`~siamkit.index.thumbnail_store.ThumbnailsUnreadableError`: damaged, or another
program's file at its place). It made every endpoint that shows or deletes thumbnails
(``/identify``, ``/enroll``, ``/gallery``, the removals) a 500 "Internal error" for a side file
of pictures, and :data:`GALLERY_DAMAGED` would be false: the gallery is sound, and its check
says ok."""


TAKEN_OVER = (
    "The gallery held no item and was taken over by another model (an enrollment with it, such "
    "as siamkit enroll's) while this service had it open, so this service's model cannot "
    "search it, enroll into it or remove from it; nothing was changed: serve that model, or "
    "restart the service with a new --gallery file."
)
"""The 409 of a request refused because the gallery, empty when the service opened it, now
records another model (a gallery that holds no item takes any model): an enrollment, a search
(``/identify``, ``/verify`` against a label, ``/recommend``), a listing of its labels or a
removal."""

RECORDED_MODEL_ENROLLED = (
    "The gallery held no item when this service opened it with its model, which was to take "
    "it over at its first enrollment, but the model the gallery records enrolled items into it "
    "since (an enrollment with it, such as siamkit enroll's), so this service's model cannot "
    "search it, enroll into it or remove from it; nothing was changed: serve that model, or "
    "restart the service with a new --gallery file."
)
"""The 409 of a request refused because the gallery, empty and recording another model when
the service opened it, was enrolled into by that model before the service's model took it
over."""


async def _on_gallery_taken_over(request: Request, exc: Exception) -> JSONResponse:
    """The gallery's :class:`~siamkit.index.results.GalleryMismatchError` in a request (the
    service opened the gallery with its own model at startup, so it arises only from a gallery
    that held no item then): another model took it over since (:data:`TAKEN_OVER`), or, where
    it recorded another model and this service's was to take it over, that model enrolled
    first (:class:`~siamkit.index.results.RecordedModelEnrolledError`,
    :data:`RECORDED_MODEL_ENROLLED`). A 409 in a sentence without the server's paths, which the
    log line gives the operator."""
    from siamkit.index.results import RecordedModelEnrolledError

    rid = request_id(request.scope)
    said = f" (id={rid})" if rid else ""
    path = logged_path(request.scope)
    log.warning("%s %s refused%s: %s", request.method, path, said, exc)
    pending = isinstance(exc, RecordedModelEnrolledError)
    return JSONResponse(
        {"detail": RECORDED_MODEL_ENROLLED if pending else TAKEN_OVER}, status_code=409
    )


async def _on_unrankable(request: Request, exc: Exception) -> JSONResponse:
    """The service's model made embeddings that hold NaN or infinite values
    (:class:`~siamkit.index.base.UnrankableEmbeddingsError`, from
    :func:`~siamkit.index.embedding.embed_inputs` or the gallery's check): a 500 whose body
    carries the refusal's sentence (:func:`unrankable_detail`) and the request's id, logged as an
    error without a traceback.

    The service takes no embeddings from its clients, so these are always its model's: a 422
    (s54_c2) told the client to "send other inputs", which cannot help a model that fails on
    every input, and logged a refusal at WARNING, where 5xx alerting never sees it (s54_R2
    finding 3). It was, before, the 500 "Internal error", which named neither the rows nor the
    model."""
    body = internal_error(request.scope)
    log.error(
        "%s %s failed (id=%s): %s", request.method, logged_path(request.scope),
        body["request_id"], exc,
    )  # fmt: skip
    body["detail"] = unrankable_detail(exc, body["request_id"])
    return JSONResponse(body, status_code=500)


def unrankable_detail(exc: Exception, rid: str) -> str:
    """The 500 sentence of :func:`_on_unrankable`: the model's fault, the refusal's sentence,
    and who mends it.

    The prefix says only whose fault it is: the refusal's own sentence says what the embeddings
    hold and what cannot be done with them ("which no search can rank", or "which no verdict can
    be given on" for /verify), so a prefix saying "no search can rank" contradicted the latter
    (s57_r3 finding 1), and one saying "made embeddings that hold NaN or infinite values" said
    it twice in one sentence (s57_FA Q3)."""
    return (
        f"The service's model failed, not the request: {exc}; sending the request again will not "
        f"help until the service's operator checks the model (the server log names this request, "
        f"id {rid})."
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app`` (most specific first)."""
    from siamkit.index.base import UnrankableEmbeddingsError
    from siamkit.index.results import GalleryMismatchError
    from siamkit.index.store import GalleryDamagedError
    from siamkit.index.thumbnail_store import ThumbnailsUnreadableError

    app.add_exception_handler(RequestError, _on_request_error)
    app.add_exception_handler(GalleryMismatchError, _on_gallery_taken_over)
    app.add_exception_handler(UnrankableEmbeddingsError, _on_unrankable)
    app.add_exception_handler(GalleryDamagedError, _operator_must_mend(GALLERY_DAMAGED))
    app.add_exception_handler(ThumbnailsUnreadableError, _operator_must_mend(THUMBNAILS_UNREADABLE))
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(sqlite3.OperationalError, _on_gallery_failure)
    app.add_exception_handler(Exception, _on_unexpected)
