"""Two texts: their similarity and a same/different decision at a stated threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from siamkit.applications.text.losses import truncate_embeddings
from siamkit.applications.text.model import (
    DOCUMENT_THRESHOLD,
    PASSAGE_THRESHOLD,
    TextSiameseNetwork,
    check_texts,
)
from siamkit.applications.text.score_map import mapped_score
from siamkit.index.decision import accepts
from siamkit.index.embedding import CALIBRATED, model_embeddings

# How a user fits a model's threshold with the installed CLI (siamkit.cli.calibrate_cmd): said
# where a default threshold is used. A siamkit model's threshold is saved in its folder; a named
# or Hugging Face model is saved as a siamkit model in --out (calibrate refuses it without).
CALIBRATE = (
    "`siamkit calibrate MODEL --data PAIRS` (PAIRS: a CSV or JSONL of labelled pairs with "
    "columns a, b, label, or other names given with --columns a=COL,b=COL,label=COL; for a "
    "named or Hugging Face model add --out DIR and use DIR as the model)"
)

NO_SIMILARITY = "no similarity can be scored from"
"""What a NaN embedding stops in ``siamkit text similarity``, which runs no search."""


@dataclass(frozen=True)
class SimilarityResult:
    """What :func:`compare_texts` found for two texts.

    Attributes:
        similarity: their cosine similarity, in ``[-1, 1]``.
        distance: the model's distance, ``1 - similarity``.
        threshold: the *distance* at or below which the texts are "the same" (a similarity
            threshold of 0.72 is a distance threshold of 0.28).
        threshold_source: where the threshold came from (given, calibrated, or a default).
        same: ``distance <= threshold`` within float32 rounding
            (:func:`siamkit.index.decision.accepts`, as every command decides).
        chunked: how many of the two texts were longer than the model's window (embedded as
            averaged windows).
        score: the similarity on the scale of the graded scores the model was fine-tuned on (its
            score map, fitted on the training pairs); ``None`` when the model has no score map.
    """

    similarity: float
    distance: float
    threshold: float
    threshold_source: str
    same: bool
    chunked: int
    score: float | None = None


def resolve_threshold(
    model: TextSiameseNetwork,
    similarity: float | None,
    level: str = "passage",
    threshold_option: str | None = None,
) -> tuple[float, str]:
    """The distance threshold and its origin: a cosine ``similarity`` the user gave, else the
    model's calibrated threshold, else all-MiniLM-L6-v2's default for ``level`` (``"passage"``:
    sentences, the sentence default; ``"document"``: near-duplicate documents).
    ``threshold_option``: the caller's option for a threshold of the user's own (``"--threshold"``),
    suggested when the default may not suit the model; ``None`` when the caller has none."""
    if level not in ("passage", "document"):
        raise ValueError(f"level is 'passage' or 'document', got {level!r}")
    if similarity is not None:
        if not -1.0 <= similarity <= 1.0:
            raise ValueError(f"a cosine-similarity threshold lies in [-1, 1], got {similarity}")
        return 1.0 - similarity, "given"
    if model.threshold is not None:
        return float(model.threshold), CALIBRATED
    refuse_default_for_lexical(model)
    default = PASSAGE_THRESHOLD if level == "passage" else DOCUMENT_THRESHOLD
    name = "sentence" if level == "passage" else level
    return default, (
        f"all-MiniLM-L6-v2's {name} default, the best F1 on synthetic edits of Lee background "
        "documents 0-149"
        + (other_model_note(model, threshold_option) or f"; to fit one to your texts: {CALIBRATE}")
    )


def several_sentences(text: str) -> bool:
    """Whether ``text`` holds more than one sentence, as
    :func:`~siamkit.applications.text.passages.split_sentences` splits it: a pasted ticket or
    article, not a sentence."""
    from siamkit.applications.text.passages import split_sentences

    return len(split_sentences(text)) > 1


def pair_level(a: str, b: str, files: tuple[bool, bool] = (False, False)) -> str:
    """The threshold level two texts are held to (:func:`resolve_threshold`'s ``level``):
    ``"document"`` when each of ``a`` and ``b`` is a file's text (``files``) or a text of several
    sentences (two pasted tickets), as ``text dedup`` holds documents; else ``"passage"`` (a
    sentence on either side: the sentence default). ``siamkit text similarity`` and the
    service's ``/verify`` of two texts both decide with it, so they agree on the same texts.

    >>> pair_level("The printer is out of toner. It jams on every page.",
    ...            "Printer toner is empty again. The paper jams daily.")
    'document'
    >>> pair_level("The printer is out of toner.", "Printer toner is empty again. The paper jams.")
    'passage'
    """
    whole = [f or several_sentences(t) for f, t in zip(files, (a, b))]
    return "document" if all(whole) else "passage"


def transformer_config(model: object) -> dict[str, Any]:
    """The Hugging Face config of ``model``'s transformer: a PyTorch text model's encoder's, or
    the one an ONNX-served model (:class:`~siamkit.applications.text.onnx_model.TextOnnxModel`) read
    from its bundle; ``{}`` when neither is known."""
    hf_config = getattr(getattr(model, "encoder", None), "hf_config", None)
    if callable(hf_config):
        return dict(hf_config())
    config = getattr(model, "transformer_config", None)
    return dict(config) if isinstance(config, dict) else {}


def other_model_note(model: object, threshold_option: str | None = None) -> str:
    """A warning for the default thresholds' source when ``model``'s transformer is not
    all-MiniLM-L6-v2's architecture (another pretrained model, e.g. all-mpnet-base-v2, whose
    cosines lie on another scale); ``""`` for MiniLM and its fine-tuned versions, PyTorch or
    ONNX-served. ``threshold_option``: the caller's threshold option, suggested if given."""
    config = transformer_config(model)
    shape = (config.get("model_type"), config.get("hidden_size"), config.get("num_hidden_layers"))
    if shape == ("bert", 384, 6):
        return ""
    own = f"pass {threshold_option}, or " if threshold_option else ""
    return (
        f"; this model is not all-MiniLM-L6-v2, so the default may not suit it: {own}calibrate "
        f"it with {CALIBRATE}"
    )


def refuse_default_for_lexical(model: object) -> None:
    """All-MiniLM-L6-v2's default thresholds are on its own cosine; a model joined to a lexical
    tower scores on another scale, so it needs a threshold of its own."""
    lexical = getattr(model, "lexical", None)
    if lexical is not None:
        # a stacked model: the weights `siamkit text lexical` took and printed, not the joined one
        def kind(t: Any) -> str:
            return "a WordNet synset tower" if t.synsets is not None else "a word tower"

        after = lexical.stacked
        joins = (
            f"a lexical tower (w = {lexical.weight:g})"
            if after is None
            else f"{kind(lexical)} (w = {lexical.weight:g}) and {kind(after)} after it "
            f"(v = {after.weight:g})"
        )
        raise ValueError(
            f"this model joins {joins}, so all-MiniLM-L6-v2's default thresholds do not apply "
            "to its scores: pass a threshold (--threshold "
            "SIMILARITY), or give it one with `siamkit text lexical ... --calibrate PAIRS` or by "
            "fine-tuning it on labelled pairs (`siamkit train`)"
        )


def check_dim(model: TextSiameseNetwork, dim: int | None) -> str:
    """Refuse an embedding size ``dim`` (``--dim``) that ``model``'s embedding cannot be cut to
    (one past its size, or any for a model joined to a lexical tower, whose embedding ends with
    the tower's dimensions); else ``""``, or a note when the model was not trained to embed at
    that size (:attr:`~TextSiameseNetwork.matryoshka_dims`)."""
    if dim is None:
        return ""
    if model.lexical is not None:
        raise ValueError(
            "--dim cuts the transformer's embedding, and this model joins a lexical tower: use "
            "the transformer's model without the tower, or leave out --dim"
        )
    full = model.encoder.num_features
    if not 1 <= dim <= full:
        raise ValueError(
            f"--dim {dim} is not a size of this {full}-dimensional model: give 1-{full}"
        )
    trained = model.matryoshka_dims or []
    if dim == full or dim in trained:
        return ""
    if trained:
        return (
            f"note: this model was fine-tuned for the sizes {trained} (loss matryoshka), not "
            f"{dim}: its similarities at {dim} dimensions may be poorer"
        )
    return (
        "note: this model was not fine-tuned with loss matryoshka: its first "
        f"{dim} dimensions were not trained to embed on their own"
    )


def at_dim(source: str, model: TextSiameseNetwork, dim: int | None) -> str:
    """A threshold's ``source`` with a caution when it was chosen at the model's full size and
    the embeddings are cut to ``dim`` (a given threshold is the user's own)."""
    full = model.encoder.num_features
    if dim is None or dim == full or source == "given":
        return source
    return (
        f"{source}; chosen at the full {full} dimensions, it may not suit --dim {dim}: check it "
        "on your own pairs or pass --threshold"
    )


def compare_texts(
    model: TextSiameseNetwork,
    a: str,
    b: str,
    min_similarity: float | None = None,
    threshold_option: str | None = None,
    dim: int | None = None,
    level: str | None = None,
) -> SimilarityResult:
    """Score ``a`` against ``b`` (``b`` through the document tower of a half-twin).

    ``threshold_option`` and ``level`` (the default threshold's): see
    :func:`resolve_threshold`. ``level=None`` decides it as ``siamkit text similarity`` does,
    by :func:`pair_level`: two texts of several sentences each are held to the document
    threshold, a sentence on either side to the sentence one (the command also counts a file's
    text as a document: pass ``level="document"`` for two files). ``dim``: compare the
    embeddings' first ``dim`` dimensions, re-normalised (a model fine-tuned with loss
    matryoshka embeds at its trained sizes); the score map, fitted at the full size, then gives
    no score.

    >>> compare_texts(load_text_model(), "A man plays guitar.", "Someone plays a guitar.")  # doctest: +SKIP
    """
    a, b = check_texts([a, b], names=("A", "B"))
    check_dim(model, dim)
    if level is None:  # the command's default (its files aside, which Python passes as text)
        level = pair_level(a, b)
    threshold, source = resolve_threshold(model, min_similarity, level, threshold_option)
    source = at_dim(source, model, dim)
    za = model.embed([a])
    chunked = model.last_chunked
    zb = model.embed([b], role="document")
    chunked += model.last_chunked
    # a broken model's NaN was scored "similarity nan: different" (s54_RR1): refused in the
    # gallery's sentence, as the service's /verify of two texts refuses it, saying what this
    # command cannot do ("no search can rank" of a command that runs none: s56_R3 finding 2)
    z = torch.cat([za, zb]).detach().float().cpu().numpy()
    model_embeddings(z, "A and B", names=["A", "B"], which=NO_SIMILARITY)
    cut = dim is not None and dim < za.shape[1]
    if cut:
        za, zb = truncate_embeddings(za, dim), truncate_embeddings(zb, dim)  # type: ignore[arg-type]
    d = float(model.distance.pairwise(za, zb)[0])  # >= 0: the distances hold their rounding
    score = None if cut else mapped_score(model, d)
    # within float32 rounding, by the rule verify and the gallery share: a text and its copy
    # lie a few float32 steps from 0, and a threshold of 1.0 (identical texts only) with a
    # strict comparison called 3 of 20 such pairs different
    same = bool(accepts(d, threshold))
    return SimilarityResult(1.0 - d, d, threshold, source, same, chunked, score)
