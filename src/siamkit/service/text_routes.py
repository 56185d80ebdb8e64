"""The endpoints of a text model's service: the image service's paths, JSON with text in.

``create_app`` mounts this router instead of the image endpoints of the same paths when the
model takes text (``model.input_kind == "text"``); ``DELETE /gallery/{label}``, ``DELETE
/gallery/items/{item_id}`` (one text) and ``/recommend`` are shared. The service keeps each
enrolled text's first :data:`TEXT_PREVIEW_CHARS` characters in the gallery's side file (where an
image service keeps thumbnails; removed with the label or the item), so ``/identify`` can show
what matched.

    POST /enroll    {"label": "T-17", "texts": ["The printer is out of toner."],
                     "source": "tickets.csv:17"}  (source: optional)
    POST /verify    {"text_a": "...", "text_b": "..."}  or  {"text": "...", "label": "T-17"}
    POST /identify  {"text": "...", "k": 5}
    POST /embed     {"texts": ["...", "..."], "role": "query"}  (role: query | document)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute

from siamkit.applications.text.documents import Document
from siamkit.applications.text.gallery import TEXT_PREVIEW_CHARS, enroll_documents
from siamkit.applications.text.score_map import mapped_score
from siamkit.applications.text.text_checks import is_blank, unicode_problem
from siamkit.clauses import NO_VERDICT
from siamkit.index import IdentifyResult, UnknownLabelError, VerifyResult, verify_pair
from siamkit.index.embedding import embed_inputs, model_embeddings, two_towers
from siamkit.service.engine import ServiceEngine, no_threshold_hint
from siamkit.service.errors import RequestError
from siamkit.service.limits import ServiceLimits
from siamkit.service.responses import MODEL, VERIFY_LABEL, enrolled_before, errors
from siamkit.service.route_answers import (
    _match_out,
    _verify_out,
    decided_label,
    enroll_answer,
    gallery_info,
    label_count,
)
from siamkit.service.route_checks import (
    KNOWN_QUERY,
    LABEL_QUERY,
    Engine,
    check_k,
    check_label,
    check_new_label,
    label_example,
)
from siamkit.service.text_schemas import (
    TextEmbedRequest,
    TextEmbedResponse,
    TextEnrollRequest,
    TextEnrollResponse,
    TextGalleryResponse,
    TextIdentifyRequest,
    TextIdentifyResponse,
    TextInfoResponse,
    TextItem,
    TextLabelItemsResponse,
    TextLabelOut,
    TextLimitsInfo,
    TextMatchOut,
    TextModelInfo,
    TextVerifyRequest,
    TextVerifyResponse,
)
from siamkit.service.uploads import file_name

__all__ = ["TEXT_PREVIEW_CHARS", "is_text_model", "text_router", "text_threshold"]
TEXT_ERRORS = (400, 403, 408, 413, 415, 422)
"""What any endpoint that takes texts can answer."""


TEXT_EXAMPLES = {
    "/enroll": '{"label": "T-17", "texts": ["..."]}',
    "/verify": '{"text_a": "...", "text_b": "..."} or {"text": "...", "label": "T-17"}',
    "/identify": '{"text": "...", "k": 5}',
    "/embed": '{"texts": ["..."]}',
}
"""Each text endpoint's own fields, as its 415 for a form shows them: ``{"text": ...}`` for
/enroll (which takes ``texts``) or /verify would be refused next as a field it does not take."""


async def _json_only(request: Request) -> None:
    """A POST with uploads (an image service's form) gets a sentence, not a parse error."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and kind != "application/json":
        example = next(
            (e for end, e in TEXT_EXAMPLES.items() if request.url.path.endswith(end)),
            TEXT_EXAMPLES["/identify"],
        )
        raise RequestError(
            415,
            "This service's model is a text model: send JSON (Content-Type: application/json) "
            f"with text fields, e.g. {example}, not images or a form.",
        )


def not_utf8(body: bytes) -> str | None:
    """Where a JSON body that is meant as UTF-8 is not (``"byte 0xe9 at offset 11"``), else
    ``None``; a body in UTF-16 or UTF-32, which JSON allows and ``json.loads`` detects by its
    first bytes, is left to it.

    >>> not_utf8('{"text": "café"}'.encode("latin-1"))
    'byte 0xe9 at offset 13'
    >>> not_utf8('{"text": "café"}'.encode()) is None
    True

    A body that starts with UTF-8's byte-order mark is meant as UTF-8 too (``detect_encoding``
    says ``utf-8-sig``, which this check skipped, so its Latin-1 bytes still got FastAPI's 400);
    the offset counts the mark's 3 bytes.

    >>> not_utf8(b"\\xef\\xbb\\xbf" + '{"text": "café"}'.encode("latin-1"))
    'byte 0xe9 at offset 16'
    """
    if json.detect_encoding(body) not in ("utf-8", "utf-8-sig"):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"byte 0x{body[err.start]:02x} at offset {err.start}"
    return None


class _TextRoute(APIRoute):
    """Reads a JSON POST's bytes before FastAPI parses them: a body that is not UTF-8 (a Latin-1
    text from a script that did not encode it) failed in its parser as 400 "There was an error
    parsing the body", which named neither the problem nor where."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if request.method == "POST" and kind == "application/json":
                where = not_utf8(await request.body())
                if where is not None:
                    raise RequestError(
                        422,
                        f"The request body is not UTF-8 text ({where}); send the JSON "
                        "encoded as UTF-8.",
                        "body",
                    )
            return await handler(request)

        return checked


text_router = APIRouter(route_class=_TextRoute, dependencies=[Depends(_json_only), *KNOWN_QUERY])


def is_text_model(model: Any) -> bool:
    """Whether ``model`` embeds strings (a text bundle) rather than images."""
    return getattr(model, "input_kind", "image") == "text"


def text_threshold(model: Any) -> tuple[float, str]:
    """The service's decision threshold on the distance and where it comes from: the model's
    calibrated one, else all-MiniLM-L6-v2's sentence default (as ``siamkit text similarity``)."""
    from siamkit.applications.text.similarity import resolve_threshold

    return resolve_threshold(model, None, level="passage")


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")


def _ordinal(n: int) -> str:
    """``1`` -> ``"first"``, ``12`` -> ``"12th"``, ``22`` -> ``"22nd"``."""
    if n <= len(_ORDINALS):
        return _ORDINALS[n - 1]
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def text_words(field: str, i: int, count: int) -> str:
    """The text as a person who typed it knows it (the page's boxes say "Text" and "Second
    text"), not by its JSON field: ``text`` and a lone ``texts[0]`` are "The text", ``text_a``
    "The first text", ``texts[2]`` of several "The third text"."""
    if field == "text_a":
        return "The first text"
    if field == "text_b":
        return "The second text"
    return "The text" if count == 1 else f"The {_ordinal(i + 1)} text"


def check_texts(texts: Sequence[str], field: str, limits: ServiceLimits) -> list[str]:
    """1 to ``max_files`` non-blank texts of at most ``max_text_chars`` characters each.

    A refusal names the text in words (:func:`text_words`) in its ``detail`` and by its field
    (``texts[2]``, ``text_a``) in ``errors`` for programs."""
    if not texts:
        raise RequestError(422, "Give at least one text; the list is empty.", field=field)
    if len(texts) > limits.max_files:
        raise RequestError(
            413,
            f"The request holds {len(texts)} texts; at most {limits.max_files} are allowed: "
            "send them in several requests.",
            field=field,
        )
    for i, t in enumerate(texts):
        path = field if len(texts) == 1 and not field.endswith("s") else f"{field}[{i}]"
        name = text_words(field, i, len(texts))
        if len(t) > limits.max_text_chars:
            # a list's text may be split into several (enrolled under the same label)
            split = ", or split it into several texts of the list" if field == "texts" else ""
            raise RequestError(
                413,
                f"{name} has {len(t):,} characters; at most {limits.max_text_chars:,} are "
                f"allowed: shorten it{split}.",
                field=path,
            )
        if is_blank(t):
            raise RequestError(
                422, f"{name} is empty; give at least one visible character.", field=path
            )
        if bad := unicode_problem(t):
            raise RequestError(422, f"{name} is not valid Unicode ({bad}).", field=path)
    return list(texts)


def token_stats(model: Any, texts: Sequence[str]) -> tuple[list[int], int]:
    """Tokens of each text (special tokens not counted) and how many texts exceed the model's
    window, i.e. are embedded as overlapping windows averaged."""
    counts, chunked = model.token_stats(texts)  # the PyTorch model and its ONNX runtime alike
    return list(counts), int(chunked)


def _runtime_of(model: Any) -> str:
    """``siamkit serve --runtime``'s name of what embeds the texts: a text model's ONNX export
    (:class:`~siamkit.applications.text.onnx.TextOnnxModel`, fp32 or int8) or PyTorch."""
    if getattr(model, "kind", None) != "text-onnx":
        return "torch"
    return "onnx-int8" if model.precision == "int8" else "onnx"


def _need_gallery(engine: ServiceEngine) -> None:
    """409 before any model work when the service has no gallery."""
    if not engine.has_gallery:
        engine.gallery  # noqa: B018 - raises the service's 409 with its message


# ---------------------------------------------------------------- operations (compute thread)
def enroll_texts(
    engine: ServiceEngine, label: str, texts: list[str], source: str | None = None
) -> tuple[list[int], int, int]:
    """Enroll ``texts`` under ``label`` and keep their previews and ``source`` (each text's,
    ``None``: none kept); the new ids, the label's count and how many texts were skipped because
    the label already holds them (the same text, as ``siamkit text enroll`` decides:
    :func:`~siamkit.applications.text.gallery.enroll_documents`)."""
    # a half-twin's document tower; a NaN named by its field, as /verify names text_a or text_b
    z = embed_inputs(engine.model, texts, role="document", refuse=False)
    z = model_embeddings(z, "the texts", [repr(f"texts[{i}]") for i in range(len(texts))])
    docs = [Document(label, t) for t in texts]
    sources = None if source is None else [source] * len(texts)
    # the check and the write are one gallery transaction (also against other processes)
    done = enroll_documents(engine.gallery, engine.thumbnails, docs, z, sources)
    ids = done.ids.get(label, [])
    return ids, engine.label_count(label, len(ids)), len(done.skipped)


def verify_texts(engine: ServiceEngine, a: str, b: str) -> tuple[VerifyResult, int, str]:
    """1:1: are ``a`` and ``b`` the same? At the threshold ``siamkit text similarity`` holds
    them to (:func:`~siamkit.applications.text.similarity.pair_level`): the model's calibrated
    one, else the document default when each holds several sentences (two pasted tickets, as
    ``text similarity`` holds documents; a half-twin's ``text dedup`` holds two documents to its
    threshold for two documents), else the sentence default; and where it comes from."""
    from siamkit.applications.text.similarity import pair_level, resolve_threshold

    threshold, source = resolve_threshold(engine.model, None, level=pair_level(a, b))
    # a NaN embedding named by its field, as /verify of two images names file_a or file_b
    result = verify_pair(engine.model, a, b, threshold=threshold, names=("text_a", "text_b"))
    return result, token_stats(engine.model, [a, b])[1], source


def verify_text_label(
    engine: ServiceEngine, text: str, label: str
) -> tuple[VerifyResult, int, str]:
    """Is ``text`` the enrolled ``label``? 404 if the label is not enrolled. At the gallery's
    threshold, the one ``/identify`` accepts a match at (the service's, :func:`text_threshold`),
    whatever the texts' length: a label's texts are compared one by one, and the decision must
    agree with ``/identify``'s and ``siamkit text identify``'s on the same gallery. A NaN
    embedding is refused by its field, "... made of the text hold NaN or infinite values
    ('text'), which no verdict can be given on", as /verify of two texts names text_a or text_b
    (it was "the inputs (rows 0), which no search can rank")."""
    z = embed_inputs(engine.model, text, refuse=False)
    z = model_embeddings(z, "the text", [repr("text")], which=NO_VERDICT)
    try:
        result = engine.gallery.verify_embedding(z, label)
    except UnknownLabelError:
        raise engine.not_enrolled(label) from None
    return result, token_stats(engine.model, [text])[1], text_threshold(engine.model)[1]


def identify_text(
    engine: ServiceEngine, text: str, k: int
) -> tuple[IdentifyResult, dict[int, str], int, dict[int, str]]:
    """The ``k`` nearest labels of ``text``, the matched items' texts, whether it was
    windowed, and the matched items' sources (:meth:`~siamkit.index.Gallery.sources`)."""
    # a NaN named by its field, as /verify names text, where the gallery said "(rows 0)"
    z = model_embeddings(embed_inputs(engine.model, text, refuse=False), "the text", ["'text'"])
    result = engine.gallery.identify_embeddings(z, k=k)[0]
    ids = [m.item_id for m in result.matches]
    found = engine.thumbnails.get(ids)
    texts = {i: b.decode("utf-8", "replace") for i, b in found.items()}
    return result, texts, token_stats(engine.model, [text])[1], engine.gallery.sources(ids)


def embed_text_batch(
    engine: ServiceEngine, texts: list[str], role: str = "query"
) -> tuple[Any, list[int], int]:
    """``(N, D)`` embeddings, the token count of each text, and how many were windowed;
    ``role``: a half-twin's tower (``"query"`` or ``"document"``)."""
    tokens, chunked = token_stats(engine.model, texts)
    z = embed_inputs(engine.model, texts, role=role, refuse=False)  # a NaN named by its field
    z = model_embeddings(z, "the texts", [repr(f"texts[{i}]") for i in range(len(texts))])
    return z, tokens, chunked


def _text_verify_out(
    model: Any, result: VerifyResult, chunked: int, source: str
) -> TextVerifyResponse:
    """The image service's verify answer, with the windowed count, the similarity on the
    graded scale of the model's score map (as ``siamkit text similarity`` prints it) and where
    the threshold comes from (``source``, as its --json's threshold_source)."""
    out = _verify_out(result, "texts")  # a finite distance, so a finite score (the map's knots are)
    return TextVerifyResponse(
        **out.model_dump(),
        chunked=chunked,
        score=mapped_score(model, out.distance),
        threshold_source=source,
    )


# ---------------------------------------------------------------- endpoints
@text_router.post(
    "/enroll",
    response_model=TextEnrollResponse,
    status_code=201,
    tags=["gallery"],
    responses={
        **enrolled_before(TextEnrollResponse),
        **errors(
            *TEXT_ERRORS, MODEL, 409, 503, field="The label or the texts are missing or unusable."
        ),
    },
)
async def enroll(engine: Engine, response: Response, body: TextEnrollRequest) -> TextEnrollResponse:
    """Enroll texts under a label (new or existing); no retraining needed. A text the label
    already holds (enrolled before, or sent twice) is skipped and counted in `skipped`; when
    every text was, nothing is stored and the answer is 200, not 201. `source` (say
    `tickets.csv:17`) is kept with each text and shown by /identify's matches."""
    label = check_new_label(body.label, engine.limits.max_label_chars, label_example(engine))
    texts = check_texts(body.texts, "texts", engine.limits)
    source = file_name(body.source)  # as an image upload's name is kept
    _need_gallery(engine)
    ids, count, skipped = await engine.call(enroll_texts, engine, label, texts, source)
    return enroll_answer(TextEnrollResponse, response, label, ids, count, skipped)


@text_router.post(
    "/verify",
    response_model=TextVerifyResponse,
    tags=["recognition"],
    responses=errors(
        *TEXT_ERRORS,
        MODEL,
        404,
        409,
        503,
        **VERIFY_LABEL,
        field="Neither text_a + text_b nor text + label was sent, or one is unusable.",
    ),
)
async def verify(engine: Engine, body: TextVerifyRequest) -> TextVerifyResponse:
    """Same or not? Send `text_a` + `text_b` (1:1), or `text` + `label` (against the gallery).

    Two texts of several sentences each (two pasted tickets) are held, as `siamkit text
    similarity` holds documents, to the model's calibrated threshold, else the document default
    (a half-twin's `text dedup` holds two documents to its threshold for two documents); a sentence on either side to the sentence default. A text and a label
    are held to the gallery's threshold, as `/identify` is. `threshold_source` says which."""
    lim = engine.limits
    pair = body.text_a is not None and body.text_b is not None
    claim = body.text is not None and body.label is not None
    if pair and body.text is None and body.label is None:
        a = check_texts([body.text_a or ""], "text_a", lim)[0]
        b = check_texts([body.text_b or ""], "text_b", lim)[0]
        result, chunked, source = await engine.call(verify_texts, engine, a, b)
        return _text_verify_out(engine.model, result, chunked, source)
    if claim and body.text_a is None and body.text_b is None:
        label = check_label(body.label or "", lim.max_label_chars, label_example(engine))
        text = check_texts([body.text or ""], "text", lim)[0]
        _need_gallery(engine)
        result, chunked, source = await engine.call(verify_text_label, engine, text, label)
        return _text_verify_out(engine.model, result, chunked, source)
    raise RequestError(
        422,
        "Send either two texts to compare (text_a and text_b), or one text and an enrolled "
        "label to check it against (text and label).",
    )


@text_router.post(
    "/identify",
    response_model=TextIdentifyResponse,
    response_model_exclude_unset=True,  # `hint` only on an empty gallery: other answers unchanged
    tags=["recognition"],
    responses=errors(
        *TEXT_ERRORS, MODEL, 409, 503, field="The text is missing, or k is not 1 to the limit."
    ),
)
async def identify(engine: Engine, body: TextIdentifyRequest) -> TextIdentifyResponse:
    """Which enrolled texts is this like? The `k` nearest labels with distances, texts and
    sources (where each was enrolled from: `siamkit text enroll`'s file or FILE:LINE, or
    /enroll's `source`)."""
    check_k(body.k, engine.limits.max_k)
    text = check_texts([body.text], "text", engine.limits)[0]
    threshold = engine.gallery.threshold  # 409 without a gallery
    result, texts, chunked, sources = await engine.call(identify_text, engine, text, body.k)
    matches = [
        TextMatchOut(
            **_match_out(m, threshold, None, "texts", sources.get(m.item_id)).model_dump(),
            text=texts.get(m.item_id),
        )
        for m in result.matches
    ]
    out = TextIdentifyResponse(
        threshold=threshold, label=decided_label(result, threshold), matches=matches,
        chunked=chunked,
    )  # fmt: skip
    if not matches and (hint := await engine.empty_gallery_hint()):
        out.hint = hint
    elif matches and threshold is None:
        out.hint = no_threshold_hint()  # why the null label does not mean unknown
    return out


@text_router.post(
    "/embed",
    response_model=TextEmbedResponse,
    tags=["recognition"],
    responses=errors(*TEXT_ERRORS, MODEL, large="Too many texts, or a text over the length limit."),
)
async def embed(engine: Engine, body: TextEmbedRequest) -> TextEmbedResponse:
    """The model's embeddings of the texts, one row per text, with their token counts; a
    half-twin embeds them with its query tower, or its document tower for `role` document."""
    texts = check_texts(body.texts, "texts", engine.limits)
    z, tokens, chunked = await engine.call(embed_text_batch, engine, texts, body.role)
    return TextEmbedResponse(
        embeddings=z.tolist(),
        dim=int(z.shape[1]),
        distance=engine.distance_name,
        tokens=tokens,
        chunked=chunked,
    )


def _labels(engine: ServiceEngine) -> list[TextLabelOut]:
    # only texts of items the gallery holds (ServiceEngine.live_thumbnails): after a kill -9
    # of an enrollment between its previews and its commit, they showed as the first text of
    # a label that had none
    first = engine.thumbnails.first_per_label(**engine.live_thumbnails())
    return [
        TextLabelOut(
            label=i.label,
            count=i.count,
            text=first[i.label].decode("utf-8", "replace") if i.label in first else None,
        )
        for i in engine.gallery.labels()
    ]


@text_router.get(
    "/gallery", response_model=TextGalleryResponse, tags=["gallery"], responses=errors(409, 503)
)
async def gallery(engine: Engine) -> TextGalleryResponse:
    """Every enrolled label with its item count and its first text."""
    labels = await engine.call(_labels, engine)
    return TextGalleryResponse(
        labels=labels, num_items=sum(i.count for i in labels), num_labels=len(labels)
    )


@text_router.get(
    "/gallery/images",
    response_model=TextLabelItemsResponse,
    tags=["gallery"],
    responses=errors(404, 409, 503, 422, field=LABEL_QUERY),
)
async def label_texts(
    engine: Engine, label: str = Query(description="An enrolled label.")
) -> TextLabelItemsResponse:
    """The enrolled texts of one label (those enrolled through the service or `siamkit text
    enroll`), each with where it was enrolled from."""
    label = check_label(label, engine.limits.max_label_chars, label_example(engine))
    items = await engine.call(engine.label_images, label)
    count = await label_count(engine, label)
    sources = await engine.call(engine.gallery.sources, [i for i, _ in items])
    out = [
        TextItem(item_id=i, text=b.decode("utf-8", "replace"), source=sources.get(i))
        for i, b in items
    ]
    return TextLabelItemsResponse(label=label, count=count, items=out)


@text_router.get(
    "/info",
    response_model=TextInfoResponse,
    tags=["service"],
    responses=errors(
        409,
        503,
        nogallery="The service's gallery, which held no item, was taken over by another model "
        "(siamkit text enroll with it) after it started, or the model it recorded enrolled items "
        "into it before the service's model did: its counts are not this model's.",
    ),
)
async def info(engine: Engine) -> TextInfoResponse:
    """The text model (threshold, token window), the gallery and the request limits (a 409, as
    every gallery call, once another model took the service's gallery over)."""
    stats = await engine.call(engine.stats)
    _, source = text_threshold(engine.model)
    model = TextModelInfo(
        name=engine.model_name,
        embedding_dim=engine.embedding_dim,
        distance=engine.distance_name,
        threshold=engine.threshold,
        threshold_source=source,
        window_tokens=int(engine.model.max_length),
        overlap_tokens=int(engine.model.overlap),
        fingerprint=engine.fingerprint,
        towers=2 if two_towers(engine.model) else 1,
        runtime=_runtime_of(engine.model),
    )
    gallery = gallery_info(stats)
    limits = TextLimitsInfo(**{f: getattr(engine.limits, f) for f in TextLimitsInfo.model_fields})
    return TextInfoResponse(model=model, gallery=gallery, limits=limits)
