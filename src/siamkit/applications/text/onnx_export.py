"""ONNX export of a text twin, with its tokenizer: the graphs (fp32, and int8 with
:func:`~siamkit.applications.text.quantize.quantize_int8`), checked against PyTorch on probe
texts before they are moved in place; :class:`~siamkit.applications.text.onnx.TextOnnxEmbedder`
runs them."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from siamkit.applications.text.lexical import LEXICAL_JSON, LEXICAL_NPZ, STACKED_JSON, STACKED_NPZ
from siamkit.applications.text.onnx import (
    DOC_INT8_NAME,
    DOC_ONNX_NAME,
    INT8_ACTIVATIONS,
    INT8_NAME,
    META_NAME,
    ONNX_NAME,
    TextOnnxEmbedder,
    graph_names,
)
from siamkit.applications.text.quantize import quantize_int8
from siamkit.atomic import remove_stale_temp_folders, temp_folder
from siamkit.export.runtime import set_aside_folder
from siamkit.export.sidecar import TEXT_DIGESTS_KEY, entry_digest
from siamkit.progress import step

FP32_MIN_COSINE = 0.9999  # an fp32 graph below this on the probe texts is not written
#: What an export may write in its folder (int8 or not, a half-twin's, a lexical or stacked
#: tower's): a forced export leaves none of these from the earlier export that it does not write
#: itself, and moves every other entry of the folder (a user's) into the new export.
EXPORT_NAMES = frozenset(
    {
        ONNX_NAME, INT8_NAME, DOC_ONNX_NAME, DOC_INT8_NAME, META_NAME, "tokenizer",
        LEXICAL_JSON, LEXICAL_NPZ, STACKED_JSON, STACKED_NPZ,
    }
)  # fmt: skip


def parity_note(precision: str, min_cosine: float) -> str:
    """The export line's words on one graph's parity with the torch model: an fp32 graph is
    held to :data:`FP32_MIN_COSINE` (below it nothing is written), an int8 graph to no limit."""
    held = (
        f"at least {FP32_MIN_COSINE}: the export embeds as the torch model"
        if precision == "fp32"
        else "int8 rounds the weights and activations: no limit is held, check it on your data"
    )
    return f"min cosine to torch {min_cosine:.6f} ({held})"


PROBE_TEXTS = (
    "A man is playing guitar.",
    "Someone plays a guitar.",
    "The printer on the second floor is out of toner again.",
    "I cannot connect to the VPN from home since this morning's update.",
    "Quarterly revenue rose 4% while operating costs fell.",
    "Der Drucker funktioniert nicht.",
    "ok",
    " ".join(
        f"Paragraph {i} of a long report on the budget review and its findings." for i in range(40)
    ),
)
"""Texts the export checks the ONNX files on: short and long (windowed), one not English."""


def export_text_onnx(model: Any, folder: str | os.PathLike[str], int8: bool = False) -> Path:
    """Write ``text.onnx`` (and ``text.int8.onnx``), ``tokenizer/`` and ``text_onnx.json`` to
    ``folder``; a half-twin's document tower goes out too, as ``text.document.onnx`` (and
    ``text.document.int8.onnx``), which the runtime embeds ``role="document"`` texts with.

    >>> export_text_onnx(load_text_model(), "edge/")  # doctest: +SKIP
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    towers = [("query", model.encoder)]
    if not model.share_weights:
        towers.append(("document", model.doc_encoder))
    graphs: list[str] = []  # the graphs written, whose SHA-256 text_onnx.json records
    for role, encoder in towers:
        tower = "" if model.share_weights else f"'s {role} tower"  # a half-twin's two
        _trace_encoder(encoder, out / graph_names(role, False), tower)
        graphs.append(graph_names(role, False))
        if int8:
            graph = "the graph" if model.share_weights else f"the {role} tower's graph"
            step(
                f"quantising {graph} to int8 (dynamic: weights per channel, activations per token)"
            )
            quantize_int8(out / graph_names(role, False), out / graph_names(role, True))
            graphs.append(graph_names(role, True))
    _write_export_meta(model, out, int8, graphs)
    return out


def _trace_encoder(enc: Any, path: Path, tower: str = "") -> None:
    """Trace one text encoder (transformer + pooling) to ``path``; ``tower`` names a half-twin's
    (``"'s query tower"``) in the step line."""
    import torch

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.t = enc.transformer

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            h = self.t(input_ids=ids, attention_mask=mask).last_hidden_state  # (N, L, F)
            return enc.pool(h, mask)  # (N, F); windows are averaged, then normalised, outside

    ids = torch.full((2, 16), 1000, dtype=torch.long)
    axes = {
        "input_ids": {0: "n", 1: "l"},
        "attention_mask": {0: "n", 1: "l"},
        "embedding": {0: "n"},
    }
    step(f"tracing the text encoder{tower} to ONNX (opset 17)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Graph().eval(), (ids, torch.ones_like(ids)), str(path),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip
    except Exception as err:  # the exporter raises many unrelated types: a traceback reached users
        raise ValueError(
            f"torch.onnx.export could not export this text model's encoder (opset 17): "
            f"{type(err).__name__}: {err}; the model still runs with PyTorch (the text "
            "commands' and `siamkit serve`'s default, --runtime torch)"
        ) from err


def _bundle_fingerprint(model: Any, folder: Path, fingerprint: str) -> str:
    """The fingerprint an export into ``folder/onnx`` records: the one the model folder's
    siamkit.json records where that is this model's by the former formula (a bundle saved
    before text fingerprints left out the folder's path), so that the folder's model and its
    export still agree (``--runtime onnx`` compares the two without loading the model); else
    ``fingerprint``, the model's."""
    from siamkit.export.bundle import read_model_config

    try:
        recorded = read_model_config(folder).get("fingerprint")
    except (OSError, ValueError):  # no model folder: an export elsewhere
        return fingerprint
    former = getattr(model, "former_fingerprints", tuple)
    same = isinstance(recorded, str) and recorded != fingerprint and recorded in former()
    return str(recorded) if same else fingerprint


def _write_export_meta(model: Any, out: Path, int8: bool, graphs: Sequence[str] = ()) -> None:
    """The tokenizer, the lexical tower and ``text_onnx.json`` of ``model``'s export, which
    records the SHA-256 of each of its files (``graphs`` and those written here:
    :data:`~siamkit.export.sidecar.TEXT_DIGESTS_KEY`), as ``onnx.json`` does an image export's,
    so that a removal tells them from a file of the user's put at one of their names."""
    from siamkit.models import model_fingerprint

    enc = model.encoder
    enc.tokenizer.save_pretrained(str(out / "tokenizer"))
    written = [*graphs, "tokenizer"]
    if model.lexical is not None:  # joined after the graph, in numpy, by the runtime
        model.lexical.save(out)
        written += [LEXICAL_JSON, LEXICAL_NPZ]
        if model.lexical.stacked is not None:
            written += [STACKED_JSON, STACKED_NPZ]
    tok = enc.tokenizer
    meta = {
        "max_length": enc.max_length,
        "overlap": enc.overlap,
        "cls": tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id,
        "sep": tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id,
        "pad": tok.pad_token_id or 0,
        "embedding_dim": model.embedding_dim,
        "lexical": model.lexical is not None,
        "threshold": model.threshold,
        "fingerprint": _bundle_fingerprint(model, out.parent, model_fingerprint(model)),
    }
    # the model's other fingerprints (its former formula's, or this formula's where the export
    # records the former one): a gallery recording one was made by this very model, and opens
    # with the PyTorch model, so it opens with the export too (absent in older exports)
    former = getattr(model, "former_fingerprints", tuple)
    others = {model_fingerprint(model), *former()} - {meta["fingerprint"]}
    if others:
        meta["former_fingerprints"] = sorted(others)
    if not model.share_weights:  # absent for one tower (and all older exports)
        meta["document_tower"] = True
    if int8:  # exports before issue 16's fix lack it: their int8 graph is batch-dependent
        meta["int8_activations"] = INT8_ACTIVATIONS
    # absent in older exports, whose files a removal takes by their names
    meta[TEXT_DIGESTS_KEY] = {n: d for n in written if (d := entry_digest(out / n)) is not None}
    (out / META_NAME).write_text(json.dumps(meta, indent=2))


@dataclass(frozen=True)
class ExportedText:
    """One exported graph and how closely it reproduces the PyTorch embeddings on
    :data:`PROBE_TEXTS` (unit vectors: ``min_cosine`` 1.0 is identical)."""

    precision: str  # "fp32" or "int8" (dynamic quantisation of the weights)
    path: Path
    size_bytes: int
    max_abs_diff: float
    min_cosine: float


def onnx_parity(
    model: Any,
    folder: str | os.PathLike[str],
    int8: bool,
    texts: Sequence[str] = PROBE_TEXTS,
    role: str = "query",
) -> tuple[float, float]:
    """``(max |onnx - torch|, min cosine(onnx, torch))`` over ``texts`` for one exported graph
    (``role``: a half-twin's query or document tower)."""
    import torch

    with torch.inference_mode():
        want = model.embed(list(texts), role=role).float().cpu().numpy()
    got = TextOnnxEmbedder(folder, int8=int8).embed(list(texts), role=role)
    return float(np.abs(got - want).max()), float((got * want).sum(axis=1).min())


def export_text_bundle(
    model: Any, folder: str | os.PathLike[str], int8: bool = False, force: bool = False
) -> list[ExportedText]:
    """Export to ``folder`` with the tokenizer, check parity with PyTorch, then move it in place.

    The files are written to a temporary folder beside ``folder`` and moved in only when the
    fp32 graph's embeddings reach cosine :data:`FP32_MIN_COSINE` with the model's on every
    probe text; an existing ``folder`` is replaced only with ``force``, and stays whole until the
    new export takes its place (a replacement killed between the two renames is undone by the
    next call). Nothing is half-written. Replaced, the folder keeps what is not the export's
    (:data:`EXPORT_NAMES`: a file of yours beside it), and none of the earlier export's files
    that this one does not write (an int8 graph, ``lexical_stacked.*``).

    >>> export_text_bundle(load_text_model("runs/tickets/model"), "edge/", int8=True)  # doctest: +SKIP
    """
    out = Path(folder)
    old = set_aside_folder(out)  # the export being replaced, until the new is in
    if not out.exists() and (old / META_NAME).is_file():
        old.rename(out)  # a replacement killed between its two renames: the earlier export
    if out.exists() and not (out / META_NAME).is_file():  # before force: that is refused too
        raise ValueError(
            f"{out} exists and is not a text ONNX export; move it elsewhere or choose another "
            "folder"
        )
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; replace it with force=True")
    if out.is_dir() and old.is_dir():  # a replacement stopped before it had moved them
        _keep_others(old, out)
    shutil.rmtree(old, ignore_errors=True)  # left by a replacement stopped while removing it
    remove_stale_temp_folders(out.parent, f".{out.name}.")  # of exports killed with kill -9
    tmp = temp_folder(out.parent, prefix=f".{out.name}.")  # an ordinary folder's permissions
    try:
        export_text_onnx(model, tmp, int8=int8)
        rows = []
        roles = ("query",) if model.share_weights else ("query", "document")
        for role in roles:  # a half-twin's two towers, each against its own PyTorch tower
            what = "" if model.share_weights else f"{role} tower's "
            for precision in ("fp32", "int8")[: 1 + int8]:
                name = graph_names(role, precision == "int8")
                step(
                    f"checking the {what}{precision} graph against PyTorch on {len(PROBE_TEXTS)} "
                    "probe texts"
                )
                gap, cos = onnx_parity(model, tmp, int8=precision == "int8", role=role)
                size = (tmp / name).stat().st_size
                rows.append(ExportedText(precision, out / name, size, gap, cos))
        for row in rows:
            if row.precision == "fp32" and row.min_cosine < FP32_MIN_COSINE:
                raise ValueError(
                    f"the fp32 ONNX graph's embeddings ({row.path.name}) differ from PyTorch's "
                    f"(cosine {row.min_cosine:.6f} < {FP32_MIN_COSINE}); nothing was written"
                )
        step(f"writing {out}")
        if out.exists():  # renamed aside, not deleted, until the new export is in its place
            out.rename(old)
            try:
                tmp.rename(out)
            except BaseException:
                if not out.exists():
                    old.rename(out)
                raise
            _keep_others(old, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _keep_others(old: Path, out: Path) -> None:
    """Move the entries of the replaced export ``old`` that are not the export's own
    (:data:`EXPORT_NAMES`) into the new export ``out``."""
    for entry in sorted(old.iterdir()):
        if entry.name not in EXPORT_NAMES and not (out / entry.name).exists():
            entry.rename(out / entry.name)
