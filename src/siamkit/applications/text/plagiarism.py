"""Plagiarism search: align the suspect's sentences with the sources' sentences, merge into spans.

Each suspect sentence is matched to its most similar source sentence; matches at or above the
similarity threshold (within float32 rounding, :mod:`siamkit.index.decision`) are kept, and
consecutive suspect sentences matched to the same source, in order and close together there,
merge into one span. A source's score is the share of the suspect's sentence characters its
spans cover.

Suspect sentences whose best match falls just under the threshold (within
:data:`NEAR_MISS_MARGIN` below it) are listed apart, as near misses: the
:data:`NEAR_MISSES` closest, shown so that a reader sees what the threshold left out; they are
not matches and count in no score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from siamkit.applications.text.corpus_ids import refuse_repeated_ids
from siamkit.applications.text.documents import Document
from siamkit.applications.text.embedding import embed_texts, sentence_names
from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.applications.text.passages import Passage, split_sentences
from siamkit.applications.text.similarity import check_dim
from siamkit.clauses import listing
from siamkit.index.decision import reaches

NEAR_MISS_MARGIN = 0.05  # a near miss's similarity lies in [threshold - this, threshold)
NEAR_MISSES = 5  # the most near misses a report lists, closest to the threshold first
NEAR_MISS_NOTE = (
    f"below the threshold (by at most {NEAR_MISS_MARGIN}): not matches, counted in no score"
)


@dataclass(frozen=True)
class NearMiss:
    """A suspect sentence whose best source sentence scored just under the threshold: below
    it, so not a match and in no score; listed for the reader to judge."""

    source: str
    suspect_start: int
    suspect_end: int
    source_start: int
    source_end: int
    similarity: float  # cosine similarity, under the report's min_similarity


@dataclass(frozen=True)
class MatchedSpan:
    """``suspect[suspect_start:suspect_end]`` matches ``source[source_start:source_end]``."""

    source: str
    suspect_start: int
    suspect_end: int
    source_start: int
    source_end: int
    similarity: float  # mean cosine similarity of the merged sentence matches
    sentences: int


@dataclass(frozen=True)
class SourceScore:
    source: str
    coverage: float  # share of the suspect's sentence characters inside this source's spans
    mean_similarity: float
    spans: int


@dataclass(frozen=True)
class PlagiarismReport:
    suspect: Document
    sources: dict[str, str]
    spans: list[MatchedSpan]
    scores: list[SourceScore]
    min_similarity: float
    chunked: int  # sentences longer than the model's window (embedded as averaged windows)
    # suspect sentences just under the threshold, closest first: below it, counted nowhere
    near_misses: list[NearMiss] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Machine-readable form (texts left out, offsets into them kept)."""
        return {
            "suspect": self.suspect.id,
            "min_similarity": self.min_similarity,
            "scores": [asdict(s) for s in self.scores],
            "spans": [asdict(s) for s in self.spans],
            "chunked_passages": self.chunked,
            "near_misses": {  # apart from spans and scores: none of them is a match
                "note": NEAR_MISS_NOTE,
                "within": NEAR_MISS_MARGIN,
                "pairs": [asdict(m) for m in self.near_misses],
            },
        }


def _merge(
    matches: list[tuple[int, int, float]],
    sus: list[Passage],
    src: list[tuple[str, Passage, int]],
    max_gap: int,
) -> list[MatchedSpan]:
    spans: list[MatchedSpan] = []
    run: list[tuple[int, int, float]] = []

    def flush() -> None:
        if run:
            name = src[run[0][1]][0]
            spans.append(
                MatchedSpan(
                    name,
                    sus[run[0][0]].start,
                    sus[run[-1][0]].end,
                    min(src[j][1].start for _, j, _ in run),
                    max(src[j][1].end for _, j, _ in run),
                    float(np.mean([s for _, _, s in run])),
                    len(run),
                )
            )
        run.clear()

    for i, j, s in matches:
        if run:
            pi, pj, _ = run[-1]
            same = src[j][0] == src[pj][0] and 0 < src[j][2] - src[pj][2] <= max_gap
            if not (i == pi + 1 and same):
                flush()
        run.append((i, j, s))
    flush()
    return spans


def _scores(spans: list[MatchedSpan], sus: list[Passage]) -> list[SourceScore]:
    """Per source, the share of the suspect's sentence characters inside its spans: a span's
    characters are those of the sentences it holds, not the spaces between them, so numerator
    and denominator count the same characters and coverage never exceeds 1."""
    total = sum(p.end - p.start for p in sus)
    by_source: dict[str, list[MatchedSpan]] = {}
    for sp in spans:
        by_source.setdefault(sp.source, []).append(sp)

    def chars(sp: MatchedSpan) -> int:
        return sum(
            p.end - p.start for p in sus if sp.suspect_start <= p.start and p.end <= sp.suspect_end
        )

    scores = [
        SourceScore(
            name,
            sum(chars(sp) for sp in group) / max(total, 1),
            float(
                np.average([sp.similarity for sp in group], weights=[sp.sentences for sp in group])
            ),
            len(group),
        )
        for name, group in by_source.items()
    ]
    return sorted(scores, key=lambda s: (-s.coverage, s.source))


def find_plagiarism(
    model: TextSiameseNetwork,
    suspect: Document,
    sources: Sequence[Document],
    min_similarity: float,
    max_gap: int = 2,
    progress: bool | None = None,
    runtime: Any = None,
    dim: int | None = None,
) -> PlagiarismReport:
    """Spans of ``suspect`` whose sentences match sentences of ``sources`` at ``min_similarity``.

    ``sources``: a list of documents, or the :class:`~siamkit.applications.text.corpus.Corpus`
    that :func:`~siamkit.applications.text.corpus.load_corpus` returns.

    >>> report = find_plagiarism(model, Document("essay", text), load_corpus("sources/"), 0.75)  # doctest: +SKIP

    ``runtime``: the model's ONNX export (:func:`~siamkit.applications.text.onnx.open_text_runtime`)
    to embed with instead of PyTorch.

    ``dim``: compare the sentence embeddings' first ``dim`` dimensions, re-normalised (a model
    fine-tuned with loss matryoshka embeds at its trained sizes; see
    :func:`~siamkit.applications.text.similarity.check_dim`).
    """
    check_dim(model, dim)
    if not -1.0 <= min_similarity <= 1.0:
        raise ValueError(f"a cosine similarity threshold lies in [-1, 1], got {min_similarity}")
    refuse_repeated_ids(sources, "source")  # spans name their source by id: two would mix
    sus = split_sentences(suspect.text)
    src = [(d.id, p, k) for d in sources for k, p in enumerate(split_sentences(d.text))]
    if not sus:
        raise ValueError(
            f"{suspect.id} has no sentence to check; give a text with at least one sentence"
        )
    if not sources:  # "the sources hold no sentence" sent the user to look at texts not given
        raise ValueError(
            f"no source document was given to compare {suspect.id} with; give at least one"
        )
    if not src:
        ids = [d.id for d in sources]
        names = listing(ids, 3)
        raise ValueError(
            f"every source document is empty ({names}: no visible text), so {suspect.id} has "
            "no sentence to be compared with; give sources that hold text"
        )
    net = model if runtime is None else runtime
    # a broken model's NaN or infinite embeddings are refused naming each sentence by its text
    # (passed on, they matched nothing and the report said 0 spans: s54_RR1)
    a = embed_texts(
        net,
        [p.text for p in sus],
        progress=progress,
        desc="suspect",
        dim=dim,
        unit="sentences",
        names=sentence_names([suspect.id], [len(sus)]),
    )
    b = embed_texts(
        net,
        [p.text for _, p, _ in src],
        role="document",
        progress=progress,
        desc="sources",
        dim=dim,
        unit="sentences",
        names=[f"{i!r} sentence {k + 1}" for i, _, k in src],
    )
    sims = np.minimum(a.vectors @ b.vectors.T, 1.0)  # (S, M); rounding can pass 1 by 1e-7
    best = sims.argmax(1)
    # within float32 rounding (siamkit.index.decision, as every verdict): a copied sentence
    # scores a few float32 steps either side of 1, and 1.0 asks for copies
    matches = [
        (i, int(j), float(sims[i, j]))
        for i, j in enumerate(best)
        if reaches(sims[i, j], min_similarity)
    ]
    spans = _merge(matches, sus, src, max_gap)
    return PlagiarismReport(
        suspect,
        {d.id: d.text for d in sources},
        spans,
        _scores(spans, sus),
        min_similarity,
        a.chunked + b.chunked,
        _near_misses(sims, best, sus, src, min_similarity),
    )


def _near_misses(
    sims: np.ndarray,
    best: np.ndarray,
    sus: list[Passage],
    src: list[tuple[str, Passage, int]],
    min_similarity: float,
) -> list[NearMiss]:
    """The :data:`NEAR_MISSES` suspect sentences whose best similarity ``sims[i, best[i]]`` lies
    within :data:`NEAR_MISS_MARGIN` under ``min_similarity`` and does not reach it (within
    float32 rounding, as matches do: never both), closest to it first."""
    near = [
        (float(sims[i, j]), i, int(j))
        for i, j in enumerate(best)
        if sims[i, j] >= min_similarity - NEAR_MISS_MARGIN
        and not reaches(sims[i, j], min_similarity)
    ]
    near.sort(key=lambda t: (-t[0], t[1]))
    return [
        NearMiss(src[j][0], sus[i].start, sus[i].end, src[j][1].start, src[j][1].end, s)
        for s, i, j in near[:NEAR_MISSES]
    ]
