"""Two texts: their similarity and a same/different decision at a stated threshold."""

from __future__ import annotations

from dataclasses import dataclass

from siamkit.applications.text.model import (
    DOCUMENT_THRESHOLD,
    PASSAGE_THRESHOLD,
    TextSiameseNetwork,
)
from siamkit.applications.text.score_map import mapped_score


@dataclass(frozen=True)
class SimilarityResult:
    similarity: float  # cosine similarity in [-1, 1]
    distance: float  # the model's distance, 1 - similarity
    threshold: float  # distance at or below which the texts are "the same"
    threshold_source: str  # where the threshold came from
    same: bool
    chunked: int  # texts longer than the model's window (embedded as averaged windows)
    # the similarity on the scale of the graded scores the model was fine-tuned on (its score
    # map, fitted on the training pairs); None when the model has no score map
    score: float | None = None


def resolve_threshold(
    model: TextSiameseNetwork, similarity: float | None, level: str = "passage"
) -> tuple[float, str]:
    """The distance threshold and its origin: a cosine ``similarity`` the user gave, else the
    model's calibrated threshold, else all-MiniLM-L6-v2's default for ``level`` (``"passage"``:
    sentences, ``"document"``: near-duplicate documents)."""
    if level not in ("passage", "document"):
        raise ValueError(f"level is 'passage' or 'document', got {level!r}")
    if similarity is not None:
        if not -1.0 <= similarity <= 1.0:
            raise ValueError(f"a cosine-similarity threshold lies in [-1, 1], got {similarity}")
        return 1.0 - similarity, "given"
    if model.threshold is not None:
        return float(model.threshold), "the model's calibrated threshold"
    refuse_default_for_lexical(model)
    default = PASSAGE_THRESHOLD if level == "passage" else DOCUMENT_THRESHOLD
    return default, (
        f"all-MiniLM-L6-v2's {level} default: best F1 on synthetic edits of Lee background "
        "documents 0-149, benchmarks/bench_text.py calibrate" + other_model_note(model)
    )


def other_model_note(model: object) -> str:
    """A warning for the default thresholds' source when ``model``'s transformer is not
    all-MiniLM-L6-v2's architecture (another pretrained model, e.g. all-mpnet-base-v2, whose
    cosines lie on another scale); ``""`` for MiniLM and its fine-tuned versions."""
    hf_config = getattr(getattr(model, "encoder", None), "hf_config", None)
    config = hf_config() if callable(hf_config) else {}
    shape = (config.get("model_type"), config.get("hidden_size"), config.get("num_hidden_layers"))
    if shape == ("bert", 384, 6):
        return ""
    return (
        "; this model is not all-MiniLM-L6-v2, so the default may not suit it: pass --threshold, "
        "or calibrate it on labelled pairs (siamkit calibrate MODEL --data PAIRS --out DIR)"
    )


def refuse_default_for_lexical(model: object) -> None:
    """All-MiniLM-L6-v2's default thresholds are on its own cosine; a model joined to a lexical
    tower scores on another scale, so it needs a threshold of its own."""
    lexical = getattr(model, "lexical", None)
    if lexical is not None:
        raise ValueError(
            f"this model joins a lexical tower (w = {lexical.weight}), so all-MiniLM-L6-v2's "
            "default thresholds do not apply to its scores: pass a threshold (--threshold "
            "SIMILARITY), or give it one with `siamkit text lexical ... --calibrate PAIRS` or by "
            "fine-tuning it on labelled pairs (`siamkit train`)"
        )


def compare_texts(
    model: TextSiameseNetwork, a: str, b: str, min_similarity: float | None = None
) -> SimilarityResult:
    """Score ``a`` against ``b`` (``b`` through the document tower of a half-twin).

    >>> compare_texts(load_text_model(), "A man plays guitar.", "Someone plays a guitar.")  # doctest: +SKIP
    """
    threshold, source = resolve_threshold(model, min_similarity)
    za = model.embed([a])
    chunked = model.last_chunked
    zb = model.embed([b], role="document")
    chunked += model.last_chunked
    d = float(model.distance.pairwise(za, zb)[0])
    score = mapped_score(model, d)
    return SimilarityResult(1.0 - d, d, threshold, source, d <= threshold, chunked, score)
