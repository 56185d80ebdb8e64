"""Face protocols end to end: embed image files with a :class:`FacePipeline`, then score them with
LFW's 10-fold accuracy or open-set 1:N identification.

An image in which the detector finds no face is embedded from a centred box (the standard
fallback for LFW-style crops, whose face is centred) and counted in ``no_face``. A file that is
not a readable image stops the evaluation with one sentence naming it.

Example:
    >>> evaluate_lfw(FacePipeline(), read_lfw_pairs("pairs.txt", "lfw/")).accuracy.mean  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from siamkit.applications.faces.crop import read_people
from siamkit.applications.faces.detect import FaceBox
from siamkit.applications.faces.lfw import KFoldAccuracy, LfwPairs, kfold_accuracy
from siamkit.applications.faces.open_set import (
    OpenSetResult,
    open_set_identification,
    split_identities,
)
from siamkit.applications.faces.pipeline import FacePipeline, read_rgb
from siamkit.clauses import NO_EVALUATION, counted, in_number
from siamkit.image_decode import probe_image
from siamkit.index.embedding import model_distance, model_embeddings
from siamkit.progress import track


@dataclass(frozen=True)
class EmbeddedImages:
    """``(N, D)`` embeddings of image files and the files where no face was detected."""

    embeddings: np.ndarray
    no_face: list[Path]


def centred_box(height: int, width: int, fraction: float = 0.5) -> FaceBox:
    """A square box of ``fraction`` of the shorter side in the image centre."""
    side = max(1, int(min(height, width) * fraction))
    top, left = (height - side) // 2, (width - side) // 2
    return FaceBox(left, top, left + side - 1, top + side - 1, 0.0)


def embed_files(
    pipe: FacePipeline, paths: Sequence[Path], progress: bool | None = None
) -> EmbeddedImages:
    """The largest face of each file (each distinct file embedded once).

    Every file's header is checked first, so a file that is not an image stops with its
    :class:`~siamkit.image_decode.ImageReadError` before any face is searched (one truncated
    after its header stops when it is reached).

    ``progress=False`` shows nothing; otherwise :mod:`siamkit.progress` reports the search (on
    in the ``siamkit`` command: a bar on a terminal, a few lines in a log).

    A NaN or infinite embedding (a siamkit model's or dlib's) is refused at its file, by its
    name, counted against the files embedded so far and all of them, as ``siamkit enroll``
    refuses one (:class:`~siamkit.index.base.UnrankableEmbeddingsError`): "1 of the 3 embeddings
    the model made of the largest faces of the first 3 of the 6 photos hold NaN or infinite
    values ('lfw/a.jpg'), which no evaluation can score". A siamkit model's was refused by
    its row of one ("(rows 0)"), naming no file; dlib's went on into the scores.
    """
    unique = sorted(set(paths))
    for path in unique:
        probe_image(path)
    cache: dict[Path, np.ndarray] = {}
    no_face = []
    names = [repr(str(p)) for p in unique]
    for i, path in enumerate(
        unique if progress is False else track(unique, "faces", unit="images")
    ):
        image = read_rgb(path)
        boxes = pipe.detect(image)
        if not boxes:
            no_face.append(path)
            boxes = [centred_box(*image.shape[:2])]
        z = pipe.embed_chips(pipe.aligner.chips(image, boxes[:1]), refuse=False)
        cache[path] = _checked_face(z, i, names)[0]
    return EmbeddedImages(np.stack([cache[p] for p in paths]), no_face)


def _checked_face(z: np.ndarray, i: int, names: Sequence[str]) -> np.ndarray:
    """The ``(1, D)`` embedding of file ``i`` of ``names`` as float32, refused by its name
    where it holds NaN or infinite values, counted against the ``i`` files before it (checked
    already) and all of them (:func:`~siamkit.index.embedding.model_embeddings`)."""
    z = np.asarray(z)
    if z.dtype == np.float32 and math.isfinite(z.min()) and math.isfinite(z.max()):
        return z  # the fast path: two reductions, nothing made
    n, end = len(names), i + 1
    of = (
        "the photos' largest faces"
        if end == n
        else f"the largest faces of the first {end} of the {n} photos"
    )
    return model_embeddings(z, of, names[:end], which=NO_EVALUATION, before=i)


@dataclass(frozen=True)
class LfwEvaluation:
    accuracy: KFoldAccuracy
    distances: np.ndarray
    no_face: list[Path]


def evaluate_lfw(pipe: FacePipeline, pairs: LfwPairs) -> LfwEvaluation:
    """10-fold (or k-fold) verification accuracy of ``pipe`` on LFW-style ``pairs``.

    Raises:
        ValueError: the pairs have one fold (``pairsDevTest.txt``), refused before any face is
            searched: each fold's threshold is chosen on the others.
    """
    if len(np.unique(pairs.fold)) < 2:
        raise ValueError(
            "the pairs file has one fold, and k-fold accuracy chooses each fold's threshold on "
            "the others; give a pairs file of two or more folds, such as LFW's pairs.txt"
        )
    n = len(pairs.a)
    emb = embed_files(pipe, [*pairs.a, *pairs.b])
    za, zb = torch.from_numpy(emb.embeddings[:n]), torch.from_numpy(emb.embeddings[n:])
    with torch.inference_mode():
        d = model_distance(pipe.embedder).pairwise(za, zb).numpy().astype(np.float64)
    return LfwEvaluation(kfold_accuracy(d, pairs.same, pairs.fold), d, emb.no_face)


def read_identities(root: str | Path) -> tuple[list[Path], list[str]]:
    """Image files of ``root/<identity>/...`` and their identities (sorted), listed by the class
    walk training and ``siamkit enroll`` list a folder of classes with, as ``face crop`` lists
    its people (:func:`~siamkit.applications.faces.crop.read_people`): a photo two identities
    hold is left out of both, and named. Listed by a plain walk of every file, such a photo was
    counted as two identities (a genuine pair scored as an impostor one), and ``bob/alice ->
    ../alice`` read Alice's photos as Bob's too, without a word."""
    none = f"no images found under {root} (expected a folder per identity)"
    return read_people(root, "identity", none)


def _refuse_no_known_probe(
    root: str | Path,
    labels: Sequence[str],
    gallery: np.ndarray,
    probes: np.ndarray,
    unknown_fraction: float,
    per_identity: int,
) -> None:
    """The one sentence for a split of ``labels`` with no probe of an enrolled identity, which
    rank-1 and DIR need (``open_set_identification`` refused it after every face was searched,
    saying neither why nor what to do)."""
    enrolled = sorted({labels[i] for i in gallery})
    if any(labels[i] in enrolled for i in probes):
        return
    n = len(set(labels))
    if not enrolled:
        raise ValueError(
            f"every identity of {root} is left out of the gallery as unknown (a fraction "
            f"{unknown_fraction:g} of {counted(n, 'identity', 'identities')}), so no probe is of "
            "an enrolled one; give a lower --unknown-fraction or more identities"
        )
    names = ", ".join(enrolled[:3]) + (", ..." if len(enrolled) > 3 else "")
    first = "photo" if per_identity == 1 else f"{per_identity} photos"
    raise ValueError(
        f"no enrolled identity of {root} has a photo to probe with: each enrolls its first "
        f"{first} and probes with the rest, and {names} {in_number(len(enrolled), 'has', 'have')}"
        f" no more; give the identities {per_identity + 1} or more photos each"
    )


def evaluate_identities(
    pipe: FacePipeline,
    root: str | Path,
    unknown_fraction: float = 0.5,
    per_identity: int = 1,
    fars: Sequence[float] = (0.01, 0.1),
    seed: int = 0,
) -> tuple[OpenSetResult, list[Path]]:
    """Open-set 1:N on an identities folder (see :func:`split_identities`).

    Raises:
        ValueError: the split leaves no probe of an enrolled identity (every identity left out,
            or the enrolled ones have no photo beyond their first ``per_identity``), refused
            before any face is searched.
    """
    paths, labels = read_identities(root)
    g, p = split_identities(labels, unknown_fraction, per_identity, seed)
    for path in paths:  # a file that is not an image is the first thing to say (embed_files)
        probe_image(path)
    _refuse_no_known_probe(root, labels, g, p, unknown_fraction, per_identity)
    emb = embed_files(pipe, paths)
    y = np.asarray(labels)
    result = open_set_identification(
        emb.embeddings[g],
        y[g].tolist(),
        emb.embeddings[p],
        y[p].tolist(),
        fars,
        model_distance(pipe.embedder),
    )
    return result, emb.no_face
