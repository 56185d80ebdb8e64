"""JSON answers of the service (pydantic models; they also document the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer."""

    detail: str = Field(description="What is wrong and how to fix it.")


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    version: str
    auth_required: bool = Field(description="Whether the other endpoints need an X-API-Key header.")


class ModelInfo(BaseModel):
    embedding_dim: int
    distance: str
    threshold: float | None = Field(
        description="Decision threshold on the distance, if calibrated."
    )
    input_shape: list[int] = Field(description="(C, H, W) that uploads are resized to.")
    fingerprint: str


class GalleryInfo(BaseModel):
    num_items: int
    num_labels: int
    index: str


class LimitsInfo(BaseModel):
    max_upload_bytes: int
    max_request_bytes: int
    max_pixels: int
    max_files: int
    max_label_chars: int
    max_k: int


class InfoResponse(BaseModel):
    model: ModelInfo
    gallery: GalleryInfo
    limits: LimitsInfo


class EnrollResponse(BaseModel):
    label: str
    item_ids: list[int] = Field(description="Gallery ids of the newly enrolled images.")
    count: int = Field(description="Images the label has now.")


class VerifyResponse(BaseModel):
    same: bool | None = Field(description="distance <= threshold; null without a threshold.")
    distance: float = Field(description="Smaller is more similar.")
    threshold: float | None
    label: str | None = Field(description="The claimed label, or null for two uploaded images.")


class MatchOut(BaseModel):
    label: str
    distance: float
    item_id: int
    accepted: bool | None = Field(description="distance <= threshold; null without a threshold.")
    thumbnail: str | None = Field(description="data:image/png;base64 URL of the matched image.")


class IdentifyResponse(BaseModel):
    label: str | None = Field(
        description="The accepted best label; null for an unknown face/object."
    )
    matches: list[MatchOut] = Field(description="Nearest labels, best first, one item each.")


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
