"""The JSON endpoints: parse and validate the form, call the engine, format the answer."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, TypeVar, get_origin

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile

from siamkit.index import GalleryStats, IdentifyResult, Match, VerifyResult
from siamkit.index.embedding import two_towers
from siamkit.index.results import listing
from siamkit.index.store import looks_like_item_id, unprintable_char
from siamkit.registry import did_you_mean
from siamkit.service.engine import ServiceEngine, no_threshold_hint
from siamkit.service.errors import RequestError
from siamkit.service.responses import UPLOAD, VERIFY_LABEL, enrolled_before, errors
from siamkit.service.schemas import (
    EmbeddingPart,
    EmbedResponse,
    EnrollFields,
    EnrollResponse,
    FaceBoxOut,
    FaceOut,
    GalleryInfo,
    GalleryResponse,
    IdentifyResponse,
    InfoResponse,
    LabelImage,
    LabelImagesResponse,
    LabelOut,
    LimitsInfo,
    MatchOut,
    ModelInfo,
    RemoveResponse,
    VerifyFields,
    VerifyResponse,
)
from siamkit.service.thumbnails import data_url
from siamkit.service.uploads import Upload, read_upload, read_uploads

ImageFile = Annotated[UploadFile, File(description="An image file (PNG, JPEG, ...).")]
ImageFiles = Annotated[list[UploadFile], File(description="One or more image files.")]
OptionalImage = Annotated[UploadFile | None, File(description="An image file.")]


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
    return next((i.count for i in await engine.call(engine.labels) if i.label == label), 0)


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

router = APIRouter(dependencies=KNOWN_QUERY)
"""Every endpoint that touches the model or the gallery (all behind the API key); each
refuses a query parameter it does not take, or one sent twice."""


async def _uploads_only(request: Request) -> None:
    """JSON sent to an image upload endpoint (text for an image model, or a client that sent
    the form as JSON) gets a sentence, not "the label is required" for a label it did send."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and kind == "application/json":
        raise RequestError(
            415,
            "This service's model is an image model: send the images as multipart/form-data "
            "(e.g. curl -F files=@photo.jpg -F label=alice), not JSON; text needs a service "
            "started with a text model.",
        )
    if request.method == "POST" and kind in FORM_KINDS:
        form = await request.form()  # already parsed for the endpoint: cached, not read again
        unknown_fields(request, list(form.keys()))
        sent_twice(request, form)


UPLOADS_ONLY = [Depends(_uploads_only)]


async def _read(engine: ServiceEngine, uploads: list[UploadFile], field: str) -> list[Upload]:
    """Read ``uploads`` (named ``field[i]``, or ``field`` for a single-file field)."""
    if len(uploads) == 1 and not field.endswith("s"):
        return [await read_upload(uploads[0], field, engine.limits)]
    return await read_uploads(uploads, field, engine.limits)


def several_faces_notes(counts: list[int] | None, uploads: list[Upload]) -> list[str] | None:
    """The ``notes`` of a face model's answer: a sentence for each upload in which more than
    one face was found (its largest was used), as ``siamkit face`` prints; None when none."""
    from siamkit.applications.faces.recognize import several_faces_note

    found = [several_faces_note(n, u.name) for n, u in zip(counts or [], uploads)]
    return [note for note in found if note] or None


@router.post(
    "/enroll",
    dependencies=UPLOADS_ONLY,
    response_model=EnrollResponse,
    response_model_exclude_unset=True,  # `notes` only for a photo of several faces
    status_code=201,
    tags=["gallery"],
    responses={
        **enrolled_before(EnrollResponse),  # with `notes`
        **errors(
            *UPLOAD,
            409,
            field="The label or the files are missing, the label is unusable, or a field is "
            "unknown.",
        ),
    },
)
async def enroll(
    engine: Engine,
    response: Response,
    label: Annotated[str, Form(description="Who or what the images show.")],
    files: ImageFiles,
) -> EnrollResponse:
    """Enroll images under a label (new or existing); no retraining needed. An image the label
    already holds (the same embedding: enrolled before, or sent twice) is skipped and counted
    in `skipped`; when every image was, nothing is stored and the answer is 200, not 201."""
    label = check_new_label(label, engine.limits.max_label_chars)
    uploads = await _read(engine, files, "files")
    ids, count, skipped, faces = await engine.on_images(
        uploads, engine.enroll, label, uploads, role="document"
    )
    notes = several_faces_notes(faces, uploads)
    return enroll_answer(EnrollResponse, response, label, ids, count, skipped, notes=notes)


@router.post(
    "/verify",
    dependencies=UPLOADS_ONLY,
    response_model=VerifyResponse,
    response_model_exclude_unset=True,  # `notes` only for a photo of several faces
    tags=["recognition"],
    responses=errors(
        *UPLOAD,
        404,
        409,
        **VERIFY_LABEL,
        field="Neither file_a + file_b nor file + label was sent, the label is unusable, or a "
        "field is unknown.",
    ),
)
async def verify(
    engine: Engine,
    file_a: OptionalImage = None,
    file_b: OptionalImage = None,
    file: OptionalImage = None,
    label: Annotated[str | None, Form(description="An enrolled label (with `file`).")] = None,
) -> VerifyResponse:
    """Same or not? Send `file_a` + `file_b` (1:1), or `file` + `label` (against the gallery)."""
    if file_a is not None and file_b is not None and file is None and label is None:
        pair = await _read(engine, [file_a], "file_a") + await _read(engine, [file_b], "file_b")
        result, faces = await engine.on_images(pair, engine.verify_pair_faces, role="pair")
        return _noted(_verify_out(result), several_faces_notes(faces, pair))
    if file is not None and label is not None and file_a is None and file_b is None:
        label = check_label(label, engine.limits.max_label_chars)
        one = await _read(engine, [file], "file")
        result, faces = await engine.on_images(one, engine.verify_label_faces, label)
        return _noted(_verify_out(result), several_faces_notes(faces, one))
    raise RequestError(
        422,
        "Send either two images to compare (file_a and file_b), or one image and an "
        "enrolled label to check it against (file and label).",
    )


def _noted(out: VerifyFields, notes: list[str] | None) -> VerifyResponse:
    """The image service's answer: ``out`` with ``notes`` when there are any (set, so shown:
    ``response_model_exclude_unset``)."""
    given: dict[str, Any] = {"notes": notes} if notes else {}
    return VerifyResponse(**out.model_dump(), **given)


@router.post(
    "/identify",
    dependencies=UPLOADS_ONLY,
    response_model=IdentifyResponse,
    response_model_exclude_unset=True,  # `faces` only for a face model: other answers unchanged
    tags=["recognition"],
    responses=errors(
        *UPLOAD, 409, field="The file is missing, k is not 1 to the limit, or a field is unknown."
    ),
)
async def identify(
    engine: Engine,
    file: ImageFile,
    k: Annotated[int, Form(description="How many labels to return.")] = 5,
) -> IdentifyResponse:
    """Who is this? The `k` nearest enrolled labels with distances and thumbnails. With a face
    model, every face in the image (`faces`, largest first, each with its box); `label` and
    `matches` are the largest face's."""
    check_k(k, engine.limits.max_k)
    one = await _read(engine, [file], "file")
    threshold = engine.gallery.threshold
    if not engine.finds_faces:
        result, thumbs = await engine.on_images(one, engine.identify, k)
        sources = await engine.call(engine.gallery.sources, [m.item_id for m in result.matches])
        out = _identify_out(result, thumbs, threshold, sources)
    else:
        result, thumbs, found = await engine.on_images(one, engine.identify_faces, k)
        ids = [m.item_id for r in (result, *(f.result for f in found)) for m in r.matches]
        sources = await engine.call(engine.gallery.sources, ids)
        out = _identify_out(result, thumbs, threshold, sources)
        out.faces = [
            FaceOut(
                box=FaceBoxOut(**f.box),
                label=decided_label(f.result, threshold),
                matches=_identify_out(f.result, thumbs, threshold, sources).matches,
            )
            for f in found
        ]
        if not found:  # an empty answer, not an unknown face, nor an empty gallery
            out.hint = no_face_hint(one[0].name)
            return out
    if not out.matches and (hint := await engine.empty_gallery_hint()):
        out.hint = hint  # set, so shown (exclude_unset): only on an empty gallery
    elif out.matches and threshold is None:
        out.hint = no_threshold_hint()  # why the null label does not mean unknown
    return out


def no_face_hint(name: str) -> str:
    """A face model's ``/identify`` ``hint`` when no face was found in the photo ``name`` (an
    upload's words): the sentence with which ``/enroll`` refuses such a photo."""
    from siamkit.applications.faces.errors import NoFaceError, name_the_photo

    return str(name_the_photo(NoFaceError("", 0), [name]))


@router.post(
    "/embed",
    dependencies=UPLOADS_ONLY,
    response_model=EmbedResponse,
    tags=["recognition"],
    responses=errors(*UPLOAD, large="Too many files, or a file or image over the limits."),
)
async def embed(engine: Engine, files: ImageFiles) -> EmbedResponse:
    """The model's embeddings of the uploaded images, one row per file."""
    z = await engine.on_images(await _read(engine, files, "files"), engine.embed)
    return EmbedResponse(embeddings=z.tolist(), dim=int(z.shape[1]), distance=engine.distance_name)


@router.get("/gallery", response_model=GalleryResponse, tags=["gallery"], responses=errors(409))
async def gallery(engine: Engine) -> GalleryResponse:
    """Every enrolled label with its image count and a thumbnail."""
    labels = await engine.call(engine.labels)
    out = [
        LabelOut(
            label=i.label,
            count=i.count,
            thumbnail=data_url(i.thumbnail) if i.thumbnail else None,
        )
        for i in labels
    ]
    return GalleryResponse(labels=out, num_items=sum(i.count for i in out), num_labels=len(out))


@router.get(
    "/gallery/images",
    response_model=LabelImagesResponse,
    tags=["gallery"],
    responses=errors(404, 409, 422, field=LABEL_QUERY),
)
async def label_images(
    engine: Engine, label: Annotated[str, Query(description="An enrolled label.")]
) -> LabelImagesResponse:
    """The enrolled images of one label, as thumbnails (those enrolled through the service)."""
    label = check_label(label, engine.limits.max_label_chars)
    images = await engine.call(engine.label_images, label)
    count = await label_count(engine, label)
    out = [LabelImage(item_id=i, thumbnail=data_url(png)) for i, png in images]
    return LabelImagesResponse(label=label, count=count, images=out)


@router.delete(
    "/gallery/{label:path}",
    response_model=RemoveResponse,
    tags=["gallery"],
    responses=errors(
        403,
        404,
        409,
        422,
        field="The label is too long or unusable, or a query parameter was sent.",
    ),
)
async def remove(engine: Engine, label: str) -> RemoveResponse:
    """Remove a label, all its images and their thumbnails."""
    label = check_label(label, engine.limits.max_label_chars, label_example(engine))
    removed = await engine.call(engine.remove, label)
    return RemoveResponse(label=label, removed=removed)


@router.get("/info", response_model=InfoResponse, tags=["service"], responses=errors())
async def info(engine: Engine) -> InfoResponse:
    """The model (with what its embedding is made of), the gallery and the request limits."""
    stats = await engine.call(engine.stats)
    model = ModelInfo(
        name=engine.model_name,
        embedding_dim=engine.embedding_dim,
        embedding_parts=[EmbeddingPart(**p) for p in engine.embedding_parts],
        distance=engine.distance_name,
        threshold=engine.threshold,
        input_shape=list(engine.input_shape),
        reference_input_shape=list(engine.reference_shape),
        photos_at_own_size=engine.takes_photos,
        fingerprint=engine.fingerprint,
        towers=2 if two_towers(engine.model) else 1,
    )
    gallery = gallery_info(stats)
    limits = LimitsInfo(**{f: getattr(engine.limits, f) for f in LimitsInfo.model_fields})
    return InfoResponse(model=model, gallery=gallery, limits=limits)


from siamkit.service.recommend_schemas import RecommendRequest, RecommendResponse  # noqa: E402


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


@router.post(
    "/recommend",
    dependencies=[Depends(_json_only)],
    response_model=RecommendResponse,
    response_model_exclude_unset=True,  # `text` only from a text model's service
    tags=["recognition"],
    responses=errors(
        400,
        404,
        409,
        415,
        422,
        bad="A distance that is not a finite number (a broken model).",
        label="A liked label or #ID is not in the gallery, or the gallery is empty.",
        field="like is missing, empty or not a list of strings, a key is unknown, or k is not a "
        "whole number from 1 to the limit.",
    ),
)
async def recommend(engine: Engine, body: RecommendRequest) -> RecommendResponse:
    """More like these: the `k` gallery items nearest to any liked item (liked ones excluded)."""
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
    if engine.input_kind == "text":  # each item's text, as /identify's matches show it
        found = await engine.call(engine.thumbnails.get, ids)
        for item in items:
            preview = found.get(item.item_id)
            item.text = None if preview is None else preview.decode("utf-8", "replace")
    return RecommendResponse(items=items)


def _recommend(engine: ServiceEngine, likes: list[str], k: int, per_label: bool) -> list[Match]:
    """``/recommend``'s search (compute thread), refusing in the other routes' words: an unknown
    label in :func:`~siamkit.service.engine.unknown_label_sentence`'s, with the ``#ID`` hint."""
    from siamkit.index.recommend import (
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
    except ValueError as err:  # '#x': not a number
        raise RequestError(422, f"{err}.") from None
