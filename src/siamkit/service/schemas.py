"""JSON answers of the service (pydantic models; they also document the OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from siamkit.decision import ROOM_SCALE, ROUNDING


class JsonBody(BaseModel):
    """A JSON request body whose keys it does not know ("likes", "txt") are refused by name
    (the 422 handler's UNKNOWN_FIELD sentence), not dropped: dropped, the request would run on
    the defaults and the answer ask for a field that was sent misspelt, or for nothing at all.

    A boolean given for a whole number is refused too: pydantic's lax mode read JSON's
    ``"k": true`` as k = 1 (and ``false`` as 0), with no word of the mistake."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_an_int(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            kind = cls.model_fields[info.field_name].annotation
            if kind is int or kind == int | None:
                raise PydanticCustomError("int_type", "Input should be a valid integer")
        return value


class FieldError(BaseModel):
    field: str = Field(examples=["texts[2]"])
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer."""

    detail: str = Field(description="What is wrong and how to fix it.")
    errors: list[FieldError] | None = Field(
        default=None,
        description="The request fields at fault, for programs (a missing or mistyped field, "
        "a refused text); absent when no field is.",
    )


class ServerErrorResponse(BaseModel):
    """A 500: the service's own failure, not the request's."""

    detail: str = Field(
        description="What failed: the model's refusal of its own embeddings in a sentence, or "
        "'Internal error' for any other failure; either way the request's id, which the server "
        "log names."
    )
    request_id: str = Field(
        description="The request's X-Request-ID, or one made up for it: the server log's lines "
        "about the request name it.",
        examples=["5f0c2a9d1b7e4c33"],
    )


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    version: str
    auth_required: bool = Field(description="Whether the other endpoints need an X-API-Key header.")


class EmbeddingPart(BaseModel):
    name: str = Field(examples=["learned"])
    dim: int = Field(examples=[64])
    description: str


class ModelInfo(BaseModel):
    name: str | None = Field(
        default=None,
        description="The model served: its folder's name, never its path; null if unnamed.",
    )
    embedding_dim: int
    embedding_parts: list[EmbeddingPart] = Field(
        description="What the embedding is made of, e.g. 64 learned + 240 HOG appearance values, "
        "or 128 learned + 4,416 taps (an encoder's early-layer features, joined unprojected)."
    )
    distance: str
    threshold: float | None = Field(
        description="Decision threshold on the distance, if calibrated."
    )
    input_shape: list[int] = Field(
        description="(C, H, W) that uploads are resized to (not with photos_at_own_size); a "
        "half-twin's (towers: 2): what is searched with, branch f's size."
    )
    reference_input_shape: list[int] = Field(
        description="(C, H, W) that /enroll's images and /verify's second image are resized to: "
        "a half-twin's (towers: 2) branch g's size, which may differ from input_shape; "
        "input_shape for one tower."
    )
    photos_at_own_size: bool = Field(
        default=False,
        description="A face model: each photo is searched for faces at its own size, not resized.",
    )
    fingerprint: str
    towers: int = Field(
        default=1,
        description="1: one network embeds every image; 2: a half-twin (two towers: trained "
        "with `task: half_twin`, or a HalfTwinNetwork saved in Python), whose branch f embeds "
        "what is searched with (/identify's image, /verify's first image) and branch g what is "
        "enrolled and searched for (/enroll's images, /verify's second image).",
    )


class GalleryInfo(BaseModel):
    num_items: int
    num_labels: int
    index: str


class LimitsInfo(BaseModel):
    max_upload_bytes: int
    max_request_bytes: int
    max_pixels: int
    max_side: int
    max_aspect: int
    max_request_pixels: int
    max_files: int
    max_label_chars: int
    max_k: int


class InfoResponse(BaseModel):
    model: ModelInfo
    gallery: GalleryInfo | None = Field(description="null when the service runs without a gallery.")
    limits: LimitsInfo


class EnrollFields(BaseModel):
    """``/enroll``'s answer, as the image (:class:`EnrollResponse`) and the text service
    (``TextEnrollResponse``) both give it; each names its own, so that a schema name of either
    service's OpenAPI document means one schema."""

    label: str
    item_ids: list[int] = Field(description="Gallery ids of the newly enrolled images.")
    count: int = Field(description="Images the label has now.")
    skipped: int = Field(
        description="Inputs not enrolled because the label already holds them (enrolled "
        "before, or sent twice): for images the same embedding, for texts the same text.",
    )
    already_enrolled: bool = Field(
        description="True when the label already held every input, so nothing new was stored "
        "(answered 200, not 201).",
    )


class VerifyFields(BaseModel):
    """``/verify``'s answer, as the image (:class:`VerifyResponse`) and the text service
    (``TextVerifyResponse``, with more fields) both give it."""

    same: bool | None = Field(
        description=f"distance <= threshold within float32 rounding ({ROUNDING:g} over it, or "
        f"{ROOM_SCALE:.3g} x |threshold| where |threshold| is beyond {ROUNDING / ROOM_SCALE:.3g}, "
        "is still the same); null without a threshold."
    )
    distance: float = Field(description="Smaller is more similar.")
    threshold: float | None
    margin: float | None = Field(
        description="threshold - distance: how far inside (> 0) or outside (< 0) the threshold; "
        f"a margin down to -{ROUNDING:g} (-{ROOM_SCALE:.3g} x |threshold| where |threshold| is "
        f"beyond {ROUNDING / ROOM_SCALE:.3g}) is float32 rounding and still the same."
    )
    label: str | None = Field(description="The claimed label, or null for two uploaded images.")


def _notes() -> Any:
    return Field(
        default=None,
        description="A face model only, when a photo showed more than one face (absent "
        "otherwise): one sentence per such photo, e.g. \"2 faces found in 'team.jpg' (the "
        'image); using the largest": its largest face was used, as `siamkit face` says.',
    )


class EnrollResponse(EnrollFields):  # the image service's (no docstring: none in its docs)
    notes: list[str] | None = _notes()


class VerifyResponse(VerifyFields):  # the image service's
    notes: list[str] | None = _notes()


def source_field(what: str) -> Any:
    """The ``source`` of an item in an answer (``what``: "matched item", "item", ...)."""
    return Field(
        default=None,
        description=f"The file the {what} was enrolled from: as `siamkit enroll` was given it, "
        "or the name (alone) of the file uploaded to /enroll; null for items enrolled "
        "otherwise (from Python, or before siamkit kept it).",
    )


class MatchOut(BaseModel):
    label: str
    distance: float
    item_id: int
    accepted: bool | None = Field(
        description=f"distance <= threshold within float32 rounding ({ROUNDING:g} over it, or "
        f"{ROOM_SCALE:.3g} x |threshold| where |threshold| is beyond {ROUNDING / ROOM_SCALE:.3g}, "
        "is still accepted); null without a threshold."
    )
    margin: float | None = Field(
        description=f"threshold - distance; > 0 inside the threshold (down to -{ROUNDING:g}, or "
        f"-{ROOM_SCALE:.3g} x |threshold| where |threshold| is beyond "
        f"{ROUNDING / ROOM_SCALE:.3g}: float32 rounding, still accepted)."
    )
    thumbnail: str | None = Field(description="data:image/png;base64 URL of the matched image.")
    source: str | None = source_field("matched item")


class FaceBoxOut(BaseModel):
    left: int
    top: int
    right: int = Field(description="Inclusive, in pixels of the uploaded image.")
    bottom: int = Field(description="Inclusive, in pixels of the uploaded image.")
    score: float = Field(description="The detector's score (HOG: SVM margin; CNN: confidence).")


class FaceOut(BaseModel):
    box: FaceBoxOut
    label: str | None = Field(
        description="The accepted best label; null for an unknown face, or without a threshold."
    )
    matches: list[MatchOut] = Field(description="Nearest labels, best first, one item each.")


class IdentifyResponse(BaseModel):
    threshold: float | None = Field(
        description=f"Matches at or under it, within float32 rounding ({ROUNDING:g} over it; "
        f"{ROOM_SCALE:.3g} x |threshold| where |threshold| is beyond "
        f"{ROUNDING / ROOM_SCALE:.3g}), are accepted."
    )
    label: str | None = Field(
        description="The accepted best label; null for an unknown face/object, and when there "
        "is no threshold to accept one (hint says so; matches still rank the nearest). For a "
        "face model: the largest face's."
    )
    matches: list[MatchOut] = Field(
        description="Nearest labels, best first, one item each (a face model: the largest face's)."
    )
    faces: list[FaceOut] | None = Field(
        default=None,
        description="A face model only (absent otherwise): every face found in the image, "
        "largest first, each with its box and its own label and matches; [] when there is no "
        "face (label is then null and matches empty).",
    )
    hint: str | None = Field(
        default=None,
        description="Only when the gallery is empty, when there is no threshold, or for a face "
        "model when no face was found in the image (absent otherwise): why the null label does "
        "not mean unknown, and what to do (POST /enroll images first, calibrate a threshold, or "
        "send a photo in which a face is clearly visible).",
    )


class EmbedResponse(BaseModel):
    embeddings: list[list[float]] = Field(description="(N, D) embeddings, one row per file.")
    dim: int
    distance: str


class LabelOut(BaseModel):
    label: str
    count: int
    thumbnail: str | None


class GalleryResponse(BaseModel):
    labels: list[LabelOut]
    num_items: int
    num_labels: int


class RemoveResponse(BaseModel):
    label: str
    removed: int = Field(description="How many images of the label were removed.")


class RemoveItemResponse(BaseModel):
    item_id: int
    label: str = Field(description="The label the item was enrolled under.")
    label_count: int = Field(
        description="Items the label has left; 0: the label is no longer in the gallery."
    )


class LabelImage(BaseModel):
    item_id: int
    thumbnail: str = Field(description="data:image/png;base64 URL of the enrolled image.")
    source: str | None = source_field("image")


class LabelImagesResponse(BaseModel):
    label: str
    count: int = Field(description="Images the label has in the gallery.")
    images: list[LabelImage] = Field(
        description="Thumbnails of its images enrolled through the service (first 48)."
    )
