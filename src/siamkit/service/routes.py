"""The JSON endpoints: parse and validate the form, call the engine, format the answer."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from siamkit.index import IdentifyResult, VerifyResult
from siamkit.service.engine import ServiceEngine
from siamkit.service.errors import RequestError
from siamkit.service.schemas import (
    EmbedResponse,
    EnrollResponse,
    ErrorResponse,
    GalleryInfo,
    GalleryResponse,
    IdentifyResponse,
    InfoResponse,
    LabelOut,
    LimitsInfo,
    MatchOut,
    ModelInfo,
    RemoveResponse,
    VerifyResponse,
)
from siamkit.service.thumbnails import data_url
from siamkit.service.uploads import Upload, read_upload, read_uploads

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (400, "Not an image, an empty file, or another bad value."),
        (401, "Missing or wrong X-API-Key."),
        (404, "Unknown label."),
        (413, "A file, the request or an image is larger than the service's limits."),
        (422, "A missing field or a field of the wrong type."),
    )
}

ImageFile = Annotated[UploadFile, File(description="An image file (PNG, JPEG, ...).")]
ImageFiles = Annotated[list[UploadFile], File(description="One or more image files.")]
OptionalImage = Annotated[UploadFile | None, File(description="An image file.")]


def check_label(label: str, max_chars: int) -> str:
    """A label from a form or path: printable, 1 to ``max_chars`` characters, outer spaces dropped."""
    if len(label) > max_chars:
        raise RequestError(
            422, f"The label has {len(label):,} characters; at most {max_chars} are allowed."
        )
    label = label.strip()
    if not label:
        raise RequestError(422, "The label is empty; give a name such as 'alice'.")
    if not label.isprintable():
        raise RequestError(422, "The label contains control characters; use printable text.")
    return label


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise RequestError(400, f"The {what} is not a finite number for these images.")
    return float(value)


def _verify_out(result: VerifyResult) -> VerifyResponse:
    return VerifyResponse(
        same=result.same,
        distance=_finite(result.distance, "distance"),
        threshold=result.threshold,
        label=result.label,
    )


def _identify_out(result: IdentifyResult, thumbs: dict[int, bytes]) -> IdentifyResponse:
    matches = [
        MatchOut(
            label=m.label,
            distance=_finite(m.distance, "distance"),
            item_id=m.item_id,
            accepted=m.accepted,
            thumbnail=data_url(thumbs[m.item_id]) if m.item_id in thumbs else None,
        )
        for m in result.matches
    ]
    return IdentifyResponse(label=result.label, matches=matches)


def get_engine(request: Request) -> ServiceEngine:
    """The app's :class:`ServiceEngine` (a FastAPI dependency)."""
    engine: ServiceEngine = request.app.state.engine
    return engine


Engine = Annotated[ServiceEngine, Depends(get_engine)]
router = APIRouter(responses=ERRORS)
"""Every endpoint that touches the model or the gallery (all behind the API key)."""


async def _read(engine: ServiceEngine, uploads: list[UploadFile], field: str) -> list[Upload]:
    """Read ``uploads`` (named ``field[i]``, or ``field`` for a single-file field)."""
    if len(uploads) == 1 and not field.endswith("s"):
        return [await read_upload(uploads[0], field, engine.limits)]
    return await read_uploads(uploads, field, engine.limits)


@router.post("/enroll", response_model=EnrollResponse, status_code=201, tags=["gallery"])
async def enroll(
    engine: Engine,
    label: Annotated[str, Form(description="Who or what the images show.")],
    files: ImageFiles,
) -> EnrollResponse:
    """Enroll images under a label (new or existing); no retraining needed."""
    label = check_label(label, engine.limits.max_label_chars)
    uploads = await _read(engine, files, "files")
    ids, count = await engine.on_images(uploads, engine.enroll, label, uploads)
    return EnrollResponse(label=label, item_ids=ids, count=count)


@router.post("/verify", response_model=VerifyResponse, tags=["recognition"])
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
        return _verify_out(await engine.on_images(pair, engine.verify_pair))
    if file is not None and label is not None and file_a is None and file_b is None:
        label = check_label(label, engine.limits.max_label_chars)
        one = await _read(engine, [file], "file")
        return _verify_out(await engine.on_images(one, engine.verify_label, label))
    raise RequestError(
        422,
        "Invalid request: send either file_a and file_b (two images to compare), "
        "or file and label (an image and an enrolled label).",
    )


@router.post("/identify", response_model=IdentifyResponse, tags=["recognition"])
async def identify(
    engine: Engine,
    file: ImageFile,
    k: Annotated[int, Form(description="How many labels to return.")] = 5,
) -> IdentifyResponse:
    """Who is this? The `k` nearest enrolled labels with distances and thumbnails."""
    if not 1 <= k <= engine.limits.max_k:
        raise RequestError(422, f"k must be between 1 and {engine.limits.max_k}, got {k}.")
    one = await _read(engine, [file], "file")
    result, thumbs = await engine.on_images(one, engine.identify, k)
    return _identify_out(result, thumbs)


@router.post("/embed", response_model=EmbedResponse, tags=["recognition"])
async def embed(engine: Engine, files: ImageFiles) -> EmbedResponse:
    """The model's embeddings of the uploaded images, one row per file."""
    z = await engine.on_images(await _read(engine, files, "files"), engine.embed)
    return EmbedResponse(embeddings=z.tolist(), dim=int(z.shape[1]), distance=engine.distance_name)


@router.get("/gallery", response_model=GalleryResponse, tags=["gallery"])
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


@router.delete("/gallery/{label:path}", response_model=RemoveResponse, tags=["gallery"])
async def remove(engine: Engine, label: str) -> RemoveResponse:
    """Remove a label and all its images."""
    label = check_label(label, engine.limits.max_label_chars)
    removed = await engine.call(engine.remove, label)
    return RemoveResponse(label=label, removed=removed)


@router.get("/info", response_model=InfoResponse, tags=["service"])
async def info(engine: Engine) -> InfoResponse:
    """The model, the gallery and the request limits."""
    stats = await engine.call(engine.stats)
    model = ModelInfo(
        embedding_dim=stats.embedding_dim,
        distance=stats.distance,
        threshold=stats.threshold,
        input_shape=list(engine.input_shape),
        fingerprint=stats.model_fingerprint,
    )
    gallery = GalleryInfo(num_items=stats.num_items, num_labels=stats.num_labels, index=stats.index)
    limits = LimitsInfo(**{f: getattr(engine.limits, f) for f in LimitsInfo.model_fields})
    return InfoResponse(model=model, gallery=gallery, limits=limits)


from siamkit.service.recommend_schemas import RecommendRequest, RecommendResponse  # noqa: E402


@router.post("/recommend", response_model=RecommendResponse, tags=["recognition"])
async def recommend(engine: Engine, body: RecommendRequest) -> RecommendResponse:
    """More like these: the `k` gallery items nearest to any liked item (liked ones excluded)."""
    from siamkit.index import UnknownLabelError
    from siamkit.index.recommend import recommend_like
    from siamkit.service.recommend_schemas import RecommendedItem

    if body.k > engine.limits.max_k:
        raise RequestError(422, f"k must be between 1 and {engine.limits.max_k}, got {body.k}.")
    likes = [check_label(like, engine.limits.max_label_chars) for like in body.like]
    try:
        matches = await engine.call(recommend_like, engine.gallery, likes, body.k)
    except UnknownLabelError as err:
        raise RequestError(404, str(err).strip("\"'")) from None
    except ValueError as err:
        raise RequestError(422, str(err)) from None
    items = [
        RecommendedItem(label=m.label, item_id=m.item_id, distance=_finite(m.distance, "distance"))
        for m in matches
    ]
    return RecommendResponse(items=items)
