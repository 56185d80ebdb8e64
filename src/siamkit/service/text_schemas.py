"""JSON bodies and answers of a text model's service (``siamkit serve`` of a text bundle).

The paths are the image service's (``/enroll``, ``/verify``, ``/identify``, ``/embed``,
``/gallery``, ``/info``); the requests are JSON with ``text`` fields instead of uploads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from siamkit.decision import ROUNDING
from siamkit.service.schemas import (
    EmbedResponse,
    EnrollFields,
    GalleryInfo,
    JsonBody,
    LimitsInfo,
    MatchOut,
    VerifyFields,
)


class TextEnrollRequest(JsonBody):
    label: str = Field(description="Who or what the texts are, e.g. a ticket id.")
    texts: list[str] = Field(description="One or more texts to enroll under the label.")
    source: str | None = Field(
        default=None,
        description="Where the texts came from, e.g. `tickets.csv:17` (a file, and a line or "
        "record), kept with each as its `source` (which /identify's matches show), as /enroll "
        "of an image keeps its file's name: the last part of a path only, a character that "
        "cannot be shown made '?', at most 255 characters. Omitted or null: none is kept.",
    )


class TextVerifyRequest(JsonBody):
    text_a: str | None = Field(default=None, description="First text of a 1:1 comparison.")
    text_b: str | None = Field(default=None, description="Second text of a 1:1 comparison.")
    text: str | None = Field(default=None, description="A text to check against `label`.")
    label: str | None = Field(default=None, description="An enrolled label (with `text`).")


class TextIdentifyRequest(JsonBody):
    text: str = Field(description="The query text.")
    k: int = Field(default=5, description="How many labels to return.")


class TextEmbedRequest(JsonBody):
    texts: list[str] = Field(description="Texts to embed, one row each.")
    role: Literal["query", "document"] = Field(
        default="query",
        description="Which tower embeds the texts when the model has two (/info's `towers`: "
        "a half-twin, model.share_weights: false): `query` for what is searched with (as "
        "/identify's text), `document` for what is enrolled and searched for (as /enroll's "
        "texts). A model with one tower embeds both the same.",
    )


class TextEnrollResponse(EnrollFields):  # the image service's EnrollResponse has `notes`
    pass


class TextVerifyResponse(VerifyFields):
    chunked: int = Field(description="Texts longer than the model's window, embedded as windows.")
    score: float | None = Field(
        default=None,
        description="The similarity (1 - distance) on the scale of the graded scores the model "
        "was fine-tuned on (e.g. 0-5), through the model's score map fitted on its training "
        "pairs; null when the model has no score map.",
    )
    threshold_source: str | None = Field(
        default=None,
        description="Where the threshold comes from, as `siamkit text similarity --json` says "
        "it: the model's calibrated threshold, else all-MiniLM-L6-v2's document default for "
        "two texts of several sentences each (as text dedup holds documents) or its sentence "
        "default otherwise; against a label, the gallery's (/info's).",
    )


def text_source_field(what: str) -> Any:
    """The ``source`` of a text item in an answer (``what``: "matched text", "text")."""
    return Field(
        default=None,
        description=f"Where the {what} was enrolled from: `siamkit text enroll`'s file (as "
        "given) or FILE:LINE of a .jsonl or .csv record, or /enroll's `source`; null when none "
        "was given (from Python, or before siamkit kept it).",
    )


class TextMatchOut(MatchOut):
    text: str | None = Field(
        description="The matched item's text (its first characters) when enrolled through the "
        "service; null for items enrolled otherwise."
    )
    source: str | None = text_source_field("matched text")


class TextIdentifyResponse(BaseModel):
    threshold: float | None = Field(
        description=f"Matches at or under it, within float32 rounding ({ROUNDING:g} over it), "
        "are accepted."
    )
    label: str | None = Field(
        description="The accepted best label; null when none is close, or without a threshold "
        "to accept one (hint says so; matches still rank the nearest)."
    )
    matches: list[TextMatchOut] = Field(description="Nearest labels, best first, one item each.")
    chunked: int = Field(description="1 if the query was longer than the model's window.")
    hint: str | None = Field(
        default=None,
        description="Only when the gallery is empty or there is no threshold (absent otherwise): "
        "why the null label does not mean unknown (nothing enrolled yet: POST /enroll texts "
        "first; no threshold: nothing was decided).",
    )


class TextEmbedResponse(EmbedResponse):
    tokens: list[int] = Field(description="Tokens of each text (special tokens not counted).")
    chunked: int = Field(
        description="Texts over the model's window, embedded as overlapping windows averaged."
    )


class TextLabelOut(BaseModel):
    label: str
    count: int
    text: str | None = Field(description="The label's first text enrolled through the service.")


class TextGalleryResponse(BaseModel):
    labels: list[TextLabelOut]
    num_items: int
    num_labels: int


class TextItem(BaseModel):
    item_id: int
    text: str
    source: str | None = text_source_field("text")


class TextLabelItemsResponse(BaseModel):
    label: str
    count: int = Field(description="Items the label has in the gallery.")
    items: list[TextItem] = Field(
        description="Its texts enrolled through the service or `siamkit text enroll` (first 48, "
        "first characters each), each with its source.",
    )


class TextModelInfo(BaseModel):
    input_kind: str = Field(default="text", description="What the model takes: text.")
    name: str | None = Field(
        default=None,
        description="The model served: its folder's name, never its path; null if unnamed.",
    )
    embedding_dim: int
    distance: str
    threshold: float | None = Field(description="Decision threshold on the distance.")
    threshold_source: str = Field(description="Where the threshold comes from.")
    window_tokens: int = Field(description="Tokens per window; longer texts are windowed.")
    overlap_tokens: int = Field(description="Tokens shared by consecutive windows.")
    fingerprint: str
    towers: int = Field(
        default=1,
        description="1: one tower embeds every text; 2: a half-twin (model.share_weights: "
        "false), whose query tower embeds what is searched with (/identify's text, /verify's "
        "text and text_a) and document tower what is enrolled and searched for (/enroll's "
        "texts, /verify's text_b); /embed takes `role` to choose.",
    )
    runtime: str = Field(
        default="torch",
        description="What embeds the texts, as siamkit serve --runtime names it: torch, onnx "
        "(ONNX Runtime, fp32) or onnx-int8 (its distances differ slightly from torch's).",
    )


class TextLimitsInfo(LimitsInfo):
    max_text_chars: int


class TextInfoResponse(BaseModel):
    model: TextModelInfo
    gallery: GalleryInfo | None = Field(description="null when the service runs without a gallery.")
    limits: TextLimitsInfo
