"""The JSON endpoints: parse and validate the form, call the engine, format the answer."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from siamkit.index.embedding import two_towers
from siamkit.service.engine import ServiceEngine, no_threshold_hint
from siamkit.service.errors import RequestError
from siamkit.service.recommend_routes import recommend_router
from siamkit.service.responses import MODEL, UPLOAD, VERIFY_LABEL, enrolled_before, errors
from siamkit.service.route_answers import (
    _identify_out,
    _noted,
    _verify_out,
    decided_label,
    enroll_answer,
    gallery_info,
    label_count,
    no_face_hint,
    several_faces_notes,
)
from siamkit.service.route_checks import (
    FORM_KINDS,
    KNOWN_QUERY,
    LABEL_QUERY,
    Engine,
    check_k,
    check_label,
    check_new_label,
    label_example,
    sent_twice,
    unknown_fields,
)
from siamkit.service.schemas import (
    EmbeddingPart,
    EmbedResponse,
    EnrollResponse,
    FaceBoxOut,
    FaceOut,
    GalleryResponse,
    IdentifyResponse,
    InfoResponse,
    LabelImage,
    LabelImagesResponse,
    LabelOut,
    LimitsInfo,
    ModelInfo,
    RemoveItemResponse,
    RemoveResponse,
    VerifyResponse,
)
from siamkit.service.thumbnails import data_url
from siamkit.service.uploads import Upload, read_upload, read_uploads, refuse_other_tower_size

ITEM_PATH = re.compile(rb"/items/[0-9]+$")
"""The raw path of ``DELETE /gallery/items/{item_id}`` as sent: a slash written %2F is part of
a label (the pages encode it so), which ``DELETE /gallery/{label}`` removes."""

ImageFile = Annotated[UploadFile, File(description="An image file (PNG, JPEG, ...).")]
ImageFiles = Annotated[list[UploadFile], File(description="One or more image files.")]
OptionalImage = Annotated[UploadFile | None, File(description="An image file.")]

router = APIRouter(dependencies=KNOWN_QUERY)
"""Every endpoint that touches the model or the gallery (all behind the API key); each
refuses a query parameter it does not take, or one sent twice."""


UPLOAD_EXAMPLES = {
    "/enroll": "curl -F label=alice -F files=@photo.jpg",
    "/verify": "curl -F file_a=@a.jpg -F file_b=@b.jpg, or -F file=@a.jpg -F label=alice",
    "/identify": "curl -F file=@query.jpg -F k=5",
    "/embed": "curl -F files=@photo.jpg",
}
"""Each upload endpoint's own fields, as its 415 for JSON shows them: /enroll's ``files`` and
``label`` named for /verify or /identify would be refused next as fields they do not take."""


async def _uploads_only(request: Request) -> None:
    """JSON sent to an image upload endpoint (text for an image model, or a client that sent
    the form as JSON) gets a sentence, not "the label is required" for a label it did send."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and kind == "application/json":
        example = next(
            (e for end, e in UPLOAD_EXAMPLES.items() if request.url.path.endswith(end)),
            UPLOAD_EXAMPLES["/enroll"],
        )
        raise RequestError(
            415,
            "This service's model is an image model: send the images as multipart/form-data "
            f"(e.g. {example}), not JSON; text needs a service started with a text model.",
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
            MODEL,
            409,
            503,
            field="The label or the files are missing, the label is unusable, a field is "
            "unknown, or (a half-twin) an image is at tower f's size, not g's.",
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
    refuse_other_tower_size(engine.model, uploads, "document")  # a half-twin: tower g's kind
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
        MODEL,
        404,
        409,
        503,
        **VERIFY_LABEL,
        field="Neither file_a + file_b nor file + label was sent, the label is unusable, a "
        "field is unknown, or (a half-twin) file_a or file is at tower g's size or file_b at f's.",
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
        refuse_other_tower_size(engine.model, pair[:1], "query")  # a half-twin: f(a) to g(b)
        refuse_other_tower_size(engine.model, pair[1:], "document")
        result, faces = await engine.on_images(pair, engine.verify_pair_faces, role="pair")
        return _noted(_verify_out(result), several_faces_notes(faces, pair))
    if file is not None and label is not None and file_a is None and file_b is None:
        label = check_label(label, engine.limits.max_label_chars)
        one = await _read(engine, [file], "file")
        refuse_other_tower_size(engine.model, one, "query")  # a half-twin: tower f's kind
        result, faces = await engine.on_images(one, engine.verify_label_faces, label)
        return _noted(_verify_out(result), several_faces_notes(faces, one))
    raise RequestError(
        422,
        "Send either two images to compare (file_a and file_b), or one image and an "
        "enrolled label to check it against (file and label).",
    )


@router.post(
    "/identify",
    dependencies=UPLOADS_ONLY,
    response_model=IdentifyResponse,
    response_model_exclude_unset=True,  # `faces` only for a face model: other answers unchanged
    tags=["recognition"],
    responses=errors(
        *UPLOAD,
        MODEL,
        409,
        503,
        field="The file is missing, k is not 1 to the limit, a field is unknown, or (a "
        "half-twin) the file is at tower g's size, not f's.",
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
    refuse_other_tower_size(engine.model, one, "query")  # a half-twin: tower f's kind
    threshold = engine.gallery.threshold
    if not engine.finds_faces:
        result, thumbs = await engine.on_images(one, engine.identify, k, one[0].name)
        sources = await engine.call(engine.gallery.sources, [m.item_id for m in result.matches])
        out = _identify_out(result, thumbs, threshold, sources)
    else:
        result, thumbs, found = await engine.on_images(one, engine.identify_faces, k, one[0].name)
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
        out.hint = no_threshold_hint(engine.model)  # why the null label does not mean unknown
    return out


@router.post(
    "/embed",
    dependencies=UPLOADS_ONLY,
    response_model=EmbedResponse,
    tags=["recognition"],
    responses=errors(*UPLOAD, MODEL, large="Too many files, or a file or image over the limits."),
)
async def embed(engine: Engine, files: ImageFiles) -> EmbedResponse:
    """The model's embeddings of the uploaded images, one row per file."""
    uploads = await _read(engine, files, "files")
    z = await engine.on_images(uploads, engine.embed, [u.name for u in uploads])
    return EmbedResponse(embeddings=z.tolist(), dim=int(z.shape[1]), distance=engine.distance_name)


@router.get(
    "/gallery", response_model=GalleryResponse, tags=["gallery"], responses=errors(409, 503)
)
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
    responses=errors(404, 409, 503, 422, field=LABEL_QUERY),
)
async def label_images(
    engine: Engine, label: Annotated[str, Query(description="An enrolled label.")]
) -> LabelImagesResponse:
    """The enrolled images of one label, as thumbnails (those enrolled through the service or
    `siamkit enroll`), each with the file it was enrolled from."""
    label = check_label(label, engine.limits.max_label_chars)
    images = await engine.call(engine.label_images, label)
    count = await label_count(engine, label)
    sources = await engine.call(engine.gallery.sources, [i for i, _ in images])
    out = [
        LabelImage(item_id=i, thumbnail=data_url(png), source=sources.get(i)) for i, png in images
    ]
    return LabelImagesResponse(label=label, count=count, images=out)


@router.delete(
    "/gallery/items/{item_id:int}",
    response_model=RemoveItemResponse,
    tags=["gallery"],
    responses=errors(
        403, 404, 409, 503, label="No item has this id: it was never enrolled, or removed already."
    ),
)
async def remove_item(engine: Engine, request: Request, item_id: int) -> Any:
    """Remove one enrolled item (an image; a text on a text model's service) by its `item_id`,
    as `/identify`'s matches, `GET /gallery/images` and `/recommend` give it, with its
    thumbnail; its label keeps its other items, and a label left with none is no longer in the
    gallery. No search returns the item again. (A label named `items/` and digits, enrolled
    before, is removed as a label when its slash is written %2F: `DELETE /gallery/items%2F57`.)"""
    if not ITEM_PATH.search(request.scope.get("raw_path") or b"/items/0"):
        label = "items/" + request.url.path.rsplit("/", 1)[1]  # sent as items%2F57: a label
        return JSONResponse((await remove(engine, label)).model_dump())
    label, left = await engine.call(engine.remove_item, item_id)
    return RemoveItemResponse(item_id=item_id, label=label, label_count=left)


@router.delete(
    "/gallery/{label:path}",
    response_model=RemoveResponse,
    tags=["gallery"],
    responses=errors(
        403,
        404,
        409,
        503,
        422,
        field="The label is too long or unusable, or a query parameter was sent.",
    ),
)
async def remove(engine: Engine, label: str) -> RemoveResponse:
    """Remove a label, all its images and their thumbnails (one image alone: `DELETE
    /gallery/items/{item_id}`)."""
    label = check_label(label, engine.limits.max_label_chars, label_example(engine))
    removed = await engine.call(engine.remove, label)
    return RemoveResponse(label=label, removed=removed)


@router.get(
    "/info",
    response_model=InfoResponse,
    tags=["service"],
    responses=errors(
        409,
        503,
        nogallery="The service's gallery, which held no item, was taken over by another model "
        "(siamkit enroll with it) after it started, or the model it recorded enrolled items "
        "into it before the service's model did: its counts are not this model's.",
    ),
)
async def info(engine: Engine) -> InfoResponse:
    """The model (with what its embedding is made of), the gallery and the request limits (a
    409, as every gallery call, once another model took the service's gallery over)."""
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


router.routes.extend(recommend_router.routes)  # the same route, last: after /info as before
