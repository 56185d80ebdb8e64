"""A bank of enrolled reference signatures: enroll a writer's references, verify a cheque.

The references live in a :class:`~siamkit.index.Gallery` (SQLite, durable, tied to the model
that made it) under the writer's id as label. Scans are SigNet-preprocessed to the model's input
size before embedding. A questioned signature is genuine when its mean / min / max distance to
the writer's references is at most the threshold (the model's, chosen on validation writers).

Open the bank with the model *folder*: the threshold was chosen for the reduce the validation
writers picked (``metadata.signatures.reduce``), which a loaded model object does not carry; with
an object, pass ``reduce=`` (else the mean decides, with a warning).

Read scans with :func:`read_signature`, which lays a transparent background on white paper.

>>> bank = SignatureBank.open("bank.db", "runs/sig/model")  # doctest: +SKIP
>>> bank.enroll("0042", [read_signature("r1.png"), read_signature("r2.png")])  # doctest: +SKIP
>>> bank.verify("0042", read_signature("cheque.png")).genuine  # doctest: +SKIP
True
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siamkit.applications.signatures.decision import check_reduce, reference_scores
from siamkit.clauses import NO_VERDICT
from siamkit.data.signature_preprocess import preprocess_batch
from siamkit.data.signature_set import read_signature
from siamkit.encode import encode
from siamkit.index import Gallery
from siamkit.index.decision import accepts
from siamkit.index.embedding import model_embeddings
from siamkit.index.results import EnrolledIds, UnknownLabelError, unknown_label_hint
from siamkit.model_protocol import as_embedding_model

__all__ = ["SignatureBank", "SignatureDecision", "read_signature"]


@dataclass(frozen=True)
class SignatureDecision:
    """The verdict on one questioned signature."""

    writer: str
    genuine: bool | None  # None when there is no threshold
    score: float  # reduced distance to the references (smaller = more alike)
    threshold: float | None
    reduce: str
    distances: list[float]  # to each reference
    # each reference's item id, and the scan it was enrolled from (None when the enrollment
    # named no file: a bank enrolled from Python, or before siamkit kept them)
    item_ids: list[int] = field(default_factory=list)
    sources: list[str | None] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as a JSON-ready dict, one key per field."""
        return asdict(self)


def signature_shape_problem(model: Any) -> str | None:
    """What keeps ``model`` from embedding ``(1, H, W)`` signature images ("no image input",
    "input shape (3, 150, 150)"), or ``None`` when it takes them."""
    shape = as_embedding_model(model).input_shape
    if shape is None:
        return "no image input"
    if len(shape) != 3 or shape[0] != 1:
        return f"input shape {tuple(shape)}"
    return None


def _signature_input_shape(model: Any) -> tuple[int, ...]:
    """The ``(1, H, W)`` input shape of ``model``; a ``ValueError`` for a model of other inputs."""
    got = signature_shape_problem(model)
    if got is not None:
        raise ValueError(
            f"a signature bank needs a model of 1-channel (1, H, W) signature images, not one "
            f"of {got}; use a signature model (siamkit train configs/signatures.yaml --out "
            "runs/sig)."
        )
    shape = as_embedding_model(model).input_shape
    assert shape is not None  # signature_shape_problem said so
    return tuple(int(s) for s in shape)


class SignatureBank:
    """Enrolled writers' reference signatures, and the decision against them."""

    def __init__(
        self,
        gallery: Gallery,
        model: Any,
        reduce: str | None = None,
        threshold: float | None = None,
    ) -> None:
        shape = _signature_input_shape(model)
        self.gallery, self.model = gallery, model
        # None: the model's own is unknown; the mean decides, with a warning at the first verify
        self._reduce_unknown = reduce is None
        self.reduce = check_reduce(reduce or "mean")
        self.threshold = threshold if threshold is not None else getattr(model, "threshold", None)
        self.size = (int(shape[1]), int(shape[2]))

    @classmethod
    def open(
        cls,
        path: str | Path,
        model: Any,
        reduce: str | None = None,
        threshold: float | None = None,
        create: bool = True,
    ) -> SignatureBank:
        """Open (or create) the bank file ``path`` for ``model``: a saved model folder (its
        ``metadata.signatures.reduce``, the one its threshold was chosen for, decides unless
        ``reduce`` is given) or a model object (give ``reduce``; else the mean decides, with a
        warning). The bank refuses a model other than the one that created it."""
        if isinstance(model, (str, os.PathLike)):
            from siamkit.export.bundle import load_model, read_model_config

            meta = read_model_config(model).get("metadata", {}).get("signatures", {})
            reduce = reduce or meta.get("reduce")
            model = load_model(model)
        _signature_input_shape(model)  # before the bank file is created
        return cls(Gallery.open(path, model, create=create), model, reduce, threshold)

    def _embed(self, scans: Sequence[Any]) -> torch.Tensor:
        x = preprocess_batch(list(scans), self.size)  # (N, 1, H, W), raises on a blank scan
        return encode(self.model, x, check=True)  # (N, D) float32 on the CPU

    def enroll(
        self,
        writer: str,
        scans: Sequence[Any],
        *,
        skip_repeats: bool = False,
        sources: Sequence[str | None] | None = None,
    ) -> EnrolledIds:
        """Add reference scans (``(H, W)``/``(C, H, W)`` arrays or tensors) for ``writer``; the
        new ids. ``skip_repeats=True`` skips a scan the writer already holds (the same
        embedding; their positions in ``.skipped``), as :meth:`Gallery.enroll_embeddings`.
        ``sources``: one per scan, the file it was read from, kept with the reference so that
        a verdict names the scans it was compared with (:attr:`SignatureDecision.sources`)."""
        if not scans:
            raise ValueError("enroll needs at least one reference signature.")
        if sources is not None and len(sources) != len(scans):
            raise ValueError(f"got {len(sources)} sources for {len(scans)} reference scans.")
        z = self._embed(scans).numpy()
        return self.gallery.enroll_embeddings(writer, z, skip_repeats=skip_repeats, sources=sources)

    def _references(self, writer: str) -> tuple[np.ndarray, np.ndarray]:
        """``(K,)`` item ids and ``(K, D)`` embeddings of ``writer``'s references."""
        if writer not in self.gallery:
            writers = [info.label for info in self.gallery.labels()]
            hint = unknown_label_hint(writer, writers, noun="writers")
            raise UnknownLabelError(
                f"writer {writer!r} is not enrolled in this signature bank{hint}"
            )
        items = self.gallery.items(writer)
        return items.ids, items.embeddings

    def references(self, writer: str) -> np.ndarray:
        """``(K, D)`` enrolled reference embeddings of ``writer``."""
        return self._references(writer)[1]

    def verify(self, writer: str, scan: Any, name: str = "the scan") -> SignatureDecision:
        """Is ``scan`` a genuine signature of ``writer``?

        A NaN or infinite embedding of ``scan`` is refused by ``name`` (``siamkit signature
        verify`` gives its file) in the gallery's class
        (:class:`~siamkit.index.base.UnrankableEmbeddingsError`): "1 of the 1 embeddings the
        model made of the scan hold NaN or infinite values ('cheque.png'), which no verdict can
        be given on". Its score was NaN, which the threshold read as forged."""
        ids, embeddings = self._references(writer)
        refs = torch.from_numpy(embeddings)  # (K, D)
        if self._reduce_unknown and self.threshold is not None:
            self._reduce_unknown = False  # once per bank
            warnings.warn(
                "SignatureBank: deciding on the mean distance to the references because no "
                "reduce was given, but the model's threshold was chosen for the reduce its "
                "validation writers picked (min, mean or max); open the bank with the model "
                "folder, SignatureBank.open(path, 'runs/sig/model'), or pass reduce=...",
                UserWarning,
                stacklevel=2,
            )
        z = self._embed([scan])  # (1, D)
        # refused by its name: a NaN score is no verdict (not "FORGED: score nan")
        model_embeddings(z.numpy(), "the scan", [repr(str(name))], which=NO_VERDICT)
        dist = self.model.distance.matrix(z, refs)[0]  # (K,)
        score = float(reference_scores(z, refs, self.model.distance, self.reduce)[0])
        # the one rule of every siamkit verdict: at most the threshold within float32 rounding
        genuine = None if self.threshold is None else bool(accepts(score, self.threshold))
        item_ids = [int(i) for i in ids]
        known = self.gallery.sources(item_ids)
        return SignatureDecision(
            writer,
            genuine,
            score,
            self.threshold,
            self.reduce,
            [float(d) for d in dist],
            item_ids,
            [known.get(i) for i in item_ids],
        )

    def close(self) -> None:
        """Close the bank's gallery store."""
        self.gallery.close()
