"""Near-duplicate texts in one call: what ``siamkit text dedup`` does, from Python.

:func:`find_duplicates` chooses the threshold (``"auto"``: the model's calibrated one, a
half-twin's for two documents, else all-MiniLM-L6-v2's default for the level), embeds the texts
in batches (whole texts, or their sentences with ``by="passages"``), finds the linked pairs
(exact below ``faiss_above`` texts, a FAISS HNSW graph above) and groups them by ``rule``. The
command calls it, so both give the same groups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from siamkit.applications.text.dedup import (
    COVERAGE_SIMILARITY,
    RULES,
    DuplicateGroup,
    PassageVectors,
    covered_pairs,
    group_duplicates,
    similar_pairs,
)
from siamkit.applications.text.embedding import embed_passages, embed_texts, progress_ticks
from siamkit.applications.text.similarity import (
    at_dim,
    check_dim,
    other_model_note,
    refuse_default_for_lexical,
    resolve_threshold,
)

if TYPE_CHECKING:
    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.applications.text.onnx import TextOnnxEmbedder

SCORINGS = ("documents", "passages")
# where a half-twin's document-document threshold comes from, as the dedup output says it
DOCUMENT_CALIBRATED = (
    "the model's calibrated threshold for two documents (each embedded by its document tower)"
)


@dataclass(frozen=True)
class DedupThresholds:
    """The thresholds a dedup links pairs at, as distances (``1 - cosine``) and where each came
    from. ``distance``: the pair score's (a cosine with ``by="documents"``, a passage coverage
    with ``by="passages"``); ``document_distance``: whole texts' (with ``by="passages"``, what two
    one-sentence texts are held to); ``dim_note``: a caution about ``dim``, or ``""``."""

    by: str
    distance: float
    source: str
    document_distance: float
    document_source: str
    dim_note: str = ""


@dataclass(frozen=True)
class DedupResult:
    """What :func:`find_duplicates` found.

    ``groups``: the duplicate groups, largest first; each member is an index into the texts given,
    its score is against the group's first member (a cosine, or a passage coverage with
    ``by="passages"``). ``threshold``: the score at or above which two texts were linked (a
    similarity, not a distance), and ``threshold_source`` where it came from;
    ``threshold_one_sentence`` and ``one_sentence_source``: with ``by="passages"``, the cosine two
    one-sentence texts were held to (``None`` otherwise). ``search``: ``"exact"`` or
    ``"faiss-hnsw"``; ``chunked``: texts (sentences with ``by="passages"``) longer than the
    model's window, embedded as overlapping windows averaged; ``dim``: the size of the vectors
    compared."""

    groups: list[DuplicateGroup]
    threshold: float
    threshold_source: str
    threshold_one_sentence: float | None
    one_sentence_source: str | None
    by: str
    rule: str
    search: str
    chunked: int
    dim: int


def coverage_threshold(
    model: TextSiameseNetwork, similarity: float | None, threshold_option: str | None = None
) -> tuple[float, str]:
    """The distance ``1 - coverage`` for ``by="passages"`` and its origin: ``similarity`` if
    given, else all-MiniLM-L6-v2's passage-coverage default. ``threshold_option``: the caller's
    option for a threshold of the user's own (``"--threshold"``), suggested when the default may
    not suit the model."""
    if similarity is not None:
        if not -1.0 <= similarity <= 1.0:
            raise ValueError(
                f"a passage-coverage threshold lies in [-1, 1], got {similarity}; e.g. 0.68"
            )
        return 1.0 - similarity, "given"
    refuse_default_for_lexical(model)  # a ValueError: a threshold of its own is needed
    own = threshold_option or "a threshold"
    # calibrate's threshold is a cosine of whole texts: it does not set a coverage, so only
    # the user's threshold (checked on their own duplicates) does
    note = (
        f" (this model is not the default one: check it on your own duplicates, or pass {own})"
        if model.threshold is not None or model.score_map is not None
        else "; this model is not all-MiniLM-L6-v2, so the default may not suit it: check it on "
        f"your own duplicates and pass {own} COVERAGE (a calibrated threshold is a cosine "
        "of whole texts and does not set the passage coverage)"
        if other_model_note(model)
        else ""
    )
    return 1.0 - COVERAGE_SIMILARITY, (
        "all-MiniLM-L6-v2's passage-coverage default: best F1 on synthetic edits of Lee "
        f"background documents 0-149{note}"
    )


def _similarity(threshold: float | str | None) -> float | None:
    """``None`` for ``"auto"`` (or ``None``), else the number; another string is refused."""
    if threshold is None or threshold == "auto":
        return None
    if isinstance(threshold, str):
        raise ValueError(
            f"threshold is 'auto' or a cosine similarity such as 0.88, got {threshold!r}"
        )
    return float(threshold)


def document_threshold(
    model: TextSiameseNetwork, similarity: float | None, threshold_option: str | None = None
) -> tuple[float, str]:
    """The distance at or below which dedup links two whole texts, and its origin:
    ``similarity`` if given; for a half-twin (towers of its own, each text embedded by the
    document tower) its calibrated document-document threshold
    (:attr:`~siamkit.applications.text.model.TextSiameseNetwork.document_threshold`), and a
    ``ValueError`` where it has only the calibrated threshold of a query against a document,
    whose scores lie elsewhere; else :func:`resolve_threshold`'s at the document level (a model
    of one tower: its calibrated threshold, else the default)."""
    if similarity is None and not getattr(model, "share_weights", True):
        calibrated = getattr(model, "document_threshold", None)
        if calibrated is not None:
            return float(calibrated), DOCUMENT_CALIBRATED
        if model.threshold is not None:
            own = f"{threshold_option} SIMILARITY" if threshold_option else "a threshold"
            raise ValueError(
                "this half-twin's calibrated threshold is for a query against a document, and "
                "dedup compares documents with documents (the document tower on both sides), "
                f"whose similarities lie elsewhere: pass {own} (a cosine similarity checked on "
                "your own duplicates), or calibrate the model on 0/1 labelled validation pairs "
                "with siamkit calibrate MODEL --data pairs.csv (or fine-tune it again with "
                "siamkit train on them), which calibrates a threshold for two documents too"
            )
    return resolve_threshold(model, similarity, level="document", threshold_option=threshold_option)


def dedup_thresholds(
    model: TextSiameseNetwork,
    threshold: float | str | None = "auto",
    by: str = "documents",
    dim: int | None = None,
    threshold_option: str | None = None,
) -> DedupThresholds:
    """The thresholds :func:`find_duplicates` links pairs at (see its arguments), chosen before
    any text is embedded; a ``dim`` the model cannot be cut to, or ``"auto"`` for a model whose
    scores have no default or a half-twin without a threshold for two documents
    (:func:`document_threshold`), is refused here."""
    if by not in SCORINGS:
        raise ValueError(f"by is one of {', '.join(SCORINGS)}, got {by!r}")
    similarity = _similarity(threshold)
    doc_dist, doc_source = document_threshold(model, similarity, threshold_option)
    dim_note = check_dim(model, dim)
    doc_source = at_dim(doc_source, model, dim)
    if by == "passages":
        dist, source = coverage_threshold(model, similarity, threshold_option)
        source = at_dim(source, model, dim)
    else:
        dist, source = doc_dist, doc_source
    return DedupThresholds(by, dist, source, doc_dist, doc_source, dim_note)


def find_duplicates(
    texts: Sequence[str],
    model: TextSiameseNetwork,
    threshold: float | str | DedupThresholds | None = "auto",
    by: str = "documents",
    rule: str = "components",
    *,
    batch_size: int = 64,
    faiss_above: int = 50_000,
    dim: int | None = None,
    runtime: TextOnnxEmbedder | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    ids: Sequence[str] | None = None,
) -> DedupResult:
    """Groups of near-duplicate ``texts``, as ``siamkit text dedup`` finds them.

    ``threshold``: the cosine similarity (``by="passages"``: the passage coverage) at or above
    which (within float32 rounding, :mod:`siamkit.index.decision`) two texts are linked, or
    ``"auto"``: the model's calibrated threshold, else all-MiniLM-L6-v2's default (0.88 for
    documents, a coverage of 0.68 for passages).
    ``by``: ``"documents"`` scores a pair by the cosine of its whole-text embeddings;
    ``"passages"`` splits texts into sentences and scores a pair by passage coverage (two
    one-sentence texts are held to the document threshold). ``rule``: ``"components"`` (linked
    chains), ``"clique"`` (every pair linked) or ``"centroid"`` (linked to one leader).
    A half-twin (towers of its own) embeds every text with its document tower: dedup compares
    documents with documents, and the query tower is for what is searched with. Its ``"auto"``
    is the threshold for two documents its training run calibrated; a half-twin saved without
    one but with a threshold for a query against a document is refused ``"auto"`` (that
    threshold is for other scores): pass a number.

    ``batch_size``: texts per forward pass; ``faiss_above``: above this many texts the pairs come
    from a FAISS HNSW graph (approximate) instead of an exact search; ``dim``: compare the
    embeddings' first ``dim`` dimensions; ``runtime``: an ONNX runtime of ``model``'s export
    (:func:`~siamkit.applications.text.onnx.open_text_runtime`) to embed with instead of PyTorch.
    ``progress``: report each step (``None``: as :func:`siamkit.progress.set_enabled` says, off
    in the library); ``log``: called with a line before a FAISS graph is built (``None``: silent).
    ``ids``: one per text, as the user knows them (the command's corpus ids): a model's NaN or
    infinite embeddings are refused naming these (their rows without).

    >>> from siamkit.applications.text import find_duplicates, load_text_model  # doctest: +SKIP
    >>> texts = ["The cat sat on the mat.", "A cat sat on the mat.", "Stocks fell sharply."]
    >>> found = find_duplicates(texts, load_text_model(), threshold="auto")  # doctest: +SKIP
    >>> [g.members for g in found.groups], round(found.threshold, 2)  # doctest: +SKIP
    ([(0, 1)], 0.88)
    """
    if rule not in RULES:
        raise ValueError(f"rule is one of {', '.join(RULES)}, got {rule!r}")
    if isinstance(threshold, DedupThresholds):
        if threshold.by != by:
            raise ValueError(f"thresholds chosen for by={threshold.by!r} given with by={by!r}")
        chosen = threshold
    else:
        chosen = dedup_thresholds(model, threshold, by, dim)
    dist, doc_dist = chosen.distance, chosen.document_distance
    encoder = model if runtime is None else runtime
    vectors: np.ndarray | PassageVectors
    # dedup compares documents with documents: a half-twin embeds both sides with its document
    # tower (its query tower is for the questions searched with, not for what is compared)
    if by == "passages":
        vectors, chunked = embed_passages(
            encoder,
            texts,
            batch_size=batch_size,
            progress=progress,
            dim=dim,
            role="document",
            names=ids,
        )
    else:
        names = None if ids is None else [repr(i) for i in ids]
        emb = embed_texts(
            encoder,
            texts,
            "document",
            batch_size=batch_size,
            progress=progress,
            dim=dim,
            names=names,
        )
        vectors, chunked = emb.vectors, emb.chunked
    n = len(vectors.means if isinstance(vectors, PassageVectors) else vectors)
    if n > faiss_above and log is not None:  # one FAISS call with no progress of its own
        log(f"building a FAISS HNSW graph of {n:,} vectors ...")
    searched = [0]
    with contextlib.ExitStack() as search_bar:
        search_tick = search_bar.enter_context(progress_ticks("searching", "texts", progress))

        def tick(k: int) -> None:
            searched[0] += k
            search_tick(searched[0], n)

        if isinstance(vectors, PassageVectors):
            with progress_ticks("passage coverage", "pairs", progress) as coverage_tick:

                def score_tick(done: int, total: int) -> None:
                    if done == 0:  # the search is done: its bar makes way
                        search_bar.close()
                    coverage_tick(done, total)

                pairs, _ = covered_pairs(
                    vectors,
                    1 - dist,
                    1 - doc_dist,
                    faiss_above=faiss_above,
                    tick=tick,
                    score_tick=score_tick,
                )
        else:
            pairs = similar_pairs(vectors, 1 - dist, faiss_above=faiss_above, tick=tick)
    groups = group_duplicates(vectors, pairs, rule)
    passages = by == "passages"
    return DedupResult(
        groups=groups,
        threshold=1 - dist,
        threshold_source=chosen.source,
        threshold_one_sentence=1 - doc_dist if passages else None,
        one_sentence_source=chosen.document_source if passages else None,
        by=by,
        rule=rule,
        search="faiss-hnsw" if n > faiss_above else "exact",
        chunked=chunked,
        dim=vectors.means.shape[1] if isinstance(vectors, PassageVectors) else vectors.shape[1],
    )
