"""The torch-free runtime of a text twin's ONNX export (the export itself is written below).

The graph maps ``input_ids, attention_mask`` ``(N, L)`` int64 to ``(N, D)`` pooled token
vectors (the mean, or the CLS token's, as the model pools); the runtime averages a long text's
windows and L2-normalises, as ``model.embed`` does. :class:`TextOnnxEmbedder` tokenizes with the
``tokenizers`` library and runs ONNX Runtime: no torch, no transformers. Long texts are split
into the same overlapping windows as :class:`~siamkit.encoders.text.TextEncoder`.

The export is written by :mod:`siamkit.applications.text.onnx_export` (int8:
:mod:`siamkit.applications.text.quantize`); a saved model served by it is
:class:`~siamkit.applications.text.onnx_model.TextOnnxModel`. This module imports no torch.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from siamkit.applications.text.lexical import LexicalTower
from siamkit.export.runtime import _interrupted_save_left
from siamkit.export.sidecar import TEXT_EXPORT_DIR, TEXT_EXPORT_META, TEXT_INT8_NAME
from siamkit.text_names import shown_folder

ONNX_NAME, INT8_NAME = "text.onnx", TEXT_INT8_NAME
# a half-twin's document tower (model.share_weights: false), beside its query tower's graphs
DOC_ONNX_NAME, DOC_INT8_NAME = "text.document.onnx", "text.document.int8.onnx"
META_NAME = TEXT_EXPORT_META  # text_onnx.json, which the bundle's refusal of an export reads too
EXPORT_DIR = TEXT_EXPORT_DIR  # ``siamkit export MODEL`` of a text bundle writes MODEL/onnx/
INT8_ACTIVATIONS = "per-token"  # how text.int8.onnx quantises activations (text_onnx.json)


def graph_names(role: str, int8: bool) -> str:
    """The file of ``role``'s graph (``"query"``: the model's one tower, or a half-twin's query
    tower; ``"document"``: a half-twin's document tower), fp32 or int8."""
    if role == "document":
        return DOC_INT8_NAME if int8 else DOC_ONNX_NAME
    return INT8_NAME if int8 else ONNX_NAME


class TextOnnxEmbedder:
    """``embed(list[str]) -> (N, D)`` with ONNX Runtime and ``tokenizers`` (no torch).

    ``threads``: ONNX Runtime intra-op threads (0: one per core); ``spin``: let idle threads
    spin-wait between operators (ONNX Runtime's default; off here, see ``__init__``).
    ``model_path``: the folder of the model ``folder`` was exported from (``default_model``: it
    is the default model), so that a refusal or warning names the command that exports it
    again; without either the command names it with a ``<model folder>`` placeholder.

    An export of a half-twin (``model.share_weights: false``) holds its document tower's graph
    too: ``embed(texts, role="document")`` runs it (what is enrolled or searched for), and the
    default ``role="query"`` the query tower (what is searched with).

    >>> TextOnnxEmbedder("edge/", int8=True).embed(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        int8: bool = False,
        threads: int = 0,
        spin: bool = False,
        model_path: str | os.PathLike[str] | None = None,
        default_model: bool = False,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = Path(folder)
        if not (path / META_NAME).is_file():
            raise ValueError(_incomplete_export(path, META_NAME, model_path, default_model))
        self.meta = json.loads((path / META_NAME).read_text())
        graph = path / (INT8_NAME if int8 else ONNX_NAME)
        self.path = graph  # the graph it runs (siamkit serve's startup line names it)
        if not graph.is_file() and not int8:  # the folder copied without its graph
            raise ValueError(_incomplete_export(path, graph.name, model_path, default_model))
        if not graph.is_file():  # e.g. int8=True on an export made without int8
            raise ValueError(
                f"{shown_folder(path)} has no {graph.name}; export it with "
                f"export_text_onnx(model, {str(path)!r}, int8=True) or "
                f"{_export_command(path, model_path, default_model, True)}"
            )
        tok_file = path / "tokenizer" / "tokenizer.json"
        if not tok_file.is_file():
            raise ValueError(
                _incomplete_export(path, "tokenizer/tokenizer.json", model_path, default_model)
            )
        self.tokenizer = Tokenizer.from_file(str(tok_file))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        if not spin:  # waiting threads sleep instead of spinning: on a shared CPU spinning
            # burnt ~40% more CPU time for the same texts (BENCHMARKS.md, 200,000-text dedup)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if int8 and self.meta.get("int8_activations") != INT8_ACTIVATIONS:
            warnings.warn(
                f"{path / INT8_NAME} quantises activations over the whole batch (an export made "
                "before they were quantised per token): a text's embedding depends on the other "
                "texts of its batch; export the model again with "
                f"{_export_command(path, model_path, default_model, True)}",
                UserWarning,
                stacklevel=2,
            )
        self.session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
        # a half-twin's document tower (None: one tower, which embeds both roles)
        self.doc_session: Any = None
        self.doc_path: Path | None = None  # its graph (siamkit serve's startup line names it)
        if self.meta.get("document_tower"):
            doc = self.doc_path = path / graph_names("document", int8)
            if not doc.is_file():
                raise ValueError(
                    f"{shown_folder(path)} holds a half-twin's query tower but not its "
                    f"document tower {doc.name}; export it again with "
                    f"{_export_command(path, model_path, default_model, True)}"
                )
            self.doc_session = ort.InferenceSession(
                str(doc), opts, providers=["CPUExecutionProvider"]
            )
        self.fingerprint = self.meta["fingerprint"]
        self._former = tuple(str(f) for f in self.meta.get("former_fingerprints", ()))
        self.threshold = self.meta["threshold"]
        self.embedding_dim = int(self.meta["embedding_dim"])
        self.lexical: LexicalTower | None = (
            LexicalTower.load(path) if self.meta.get("lexical") else None
        )
        # the graph's output: the embedding less the lexical tower joined after it
        self.pooled_dim = self.embedding_dim - (self.lexical.dim if self.lexical else 0)
        self.last_chunked = 0  # how many texts of the last ``embed`` were split into windows

    def former_fingerprints(self) -> tuple[str, ...]:
        """The exported model's other fingerprints (its former formula's: a text model's once
        hashed its folder's path), which :meth:`~siamkit.index.Gallery.open` accepts as the
        PyTorch model does; none for an export made before they were recorded."""
        return self._former

    def _windows(self, ids: list[int]) -> list[list[int]]:
        m = self.meta
        head = [] if m["cls"] is None else [m["cls"]]
        tail = [] if m["sep"] is None else [m["sep"]]
        size = m["max_length"] - len(head) - len(tail)
        step = size - m["overlap"]
        starts = range(0, max(len(ids) - m["overlap"], 1), step) if len(ids) > size else [0]
        return [head + ids[s : s + size] + tail for s in starts]

    def token_stats(self, texts: Sequence[str]) -> tuple[list[int], int]:
        """Tokens of each text (special tokens not counted) and how many texts exceed the
        window, i.e. are embedded as overlapping windows averaged."""
        encs = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        counts = [len(e.ids) for e in encs]
        return counts, sum(len(self._windows(list(e.ids))) > 1 for e in encs)

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        progress: Callable[[int, int], None] | None = None,
        role: str = "query",
    ) -> np.ndarray:
        """``N`` texts -> ``(N, D)`` float32 unit rows; ``role="document"`` runs a half-twin's
        document tower (an export of one tower embeds both roles with it).

        All windows of all texts are sorted by token count before batching, so a batch pads
        little (on 5,000 short texts: 30% less CPU than batching 64 texts at a time by character
        length). ``progress(windows done, windows)`` is called after each batch.
        """
        from siamkit.applications.text.text_checks import check_texts

        if role not in ("query", "document"):  # model.ROLES, whose module imports torch
            raise ValueError(f"role is 'query' or 'document', got {role!r}")
        session = self.doc_session if role == "document" and self.doc_session else self.session
        items = check_texts(texts)
        windows: list[np.ndarray] = []  # int32 token ids: a list of ints per window costs ~5x
        owner: list[int] = []
        chunked = 0
        for s in range(0, len(items), 8192):  # tokenizer results are large: keep only the ids
            encs = self.tokenizer.encode_batch(items[s : s + 8192], add_special_tokens=False)
            for i, e in enumerate(encs, s):
                ws = self._windows(list(e.ids))
                chunked += len(ws) > 1
                windows += [np.asarray(w, dtype=np.int32) for w in ws]
                owner += [i] * len(ws)
        self.last_chunked = chunked
        lengths = np.array([len(w) for w in windows])
        order = np.argsort(-lengths, kind="stable")
        pooled = np.empty((len(windows), self.pooled_dim), dtype=np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            width = int(lengths[idx].max())
            ids = np.full((len(idx), width), self.meta["pad"], dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, j in enumerate(idx):
                ids[r, : lengths[j]] = windows[j]
                mask[r, : lengths[j]] = 1
            pooled[idx] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            if progress is not None:
                progress(min(s + batch_size, len(order)), len(order))
        out = np.zeros((len(items), pooled.shape[1]), dtype=np.float32)
        np.add.at(out, np.array(owner), pooled * lengths[:, None].astype(np.float32))
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out if self.lexical is None else self.lexical.join(out, items)


def _export_command(
    path: Path, model_path: str | os.PathLike[str] | None, default_model: bool, force: bool
) -> str:
    """The command that writes ``model_path``'s export (fp32 and int8) into ``path``:
    ``siamkit export`` of a saved bundle, ``siamkit text export`` of a Hugging Face folder or
    of the default model; with the model's folder unknown, both with a named placeholder."""
    again = " --force" if force else ""
    if default_model:
        return f"`siamkit text export --out {path} --int8{again}` (it exports the default model)"
    if model_path is None:
        return (
            f"`siamkit export <model folder> --format onnx --int8 --out {path}{again}` (a saved "
            f"siamkit model) or `siamkit text export --model <model folder> --out {path} "
            f"--int8{again}`, <model folder> being the folder of the model this export is for"
        )
    model = Path(model_path)
    if not (model / "siamkit.json").is_file():  # a Hugging Face folder: not `siamkit export`'s
        return f"`siamkit text export --model {model} --out {path} --int8{again}`"
    out = "" if path == model / EXPORT_DIR else f" --out {path}"
    return f"`siamkit export {model} --format onnx --int8{out}{again}`"


def _incomplete_export(
    path: Path, missing: str, model_path: str | os.PathLike[str] | None, default_model: bool
) -> str:
    """What :class:`TextOnnxEmbedder` says of a folder that lacks ``missing``: a text export is
    one folder (copy all of it), else the command that exports the model again. A folder there
    without :data:`META_NAME` is no export to replace (the exporter refuses it): a new folder.
    ``path`` is named as :func:`~siamkit.text_names.shown_folder` names it
    (``./all-MiniLM-L6-v2``, not the bundled model's name); the commands' ``--out`` is a folder
    whatever its name."""
    shown = shown_folder(path)
    whole = (
        f"a text export is one folder, its graph ({ONNX_NAME}), {META_NAME} and tokenizer/ "
        "together: copy the whole export folder"
    )
    # a save of MODEL killed after its renames left this export of the model in .MODEL.old/onnx
    record = f"{path.name}/{META_NAME}"
    if not path.exists() and (old := _interrupted_save_left(path.parent, record, record)):
        model, left = path.parent, old / path.name
        return (
            f"{shown} does not exist: an interrupted save of the model left it in {left}; load "
            f"the model once with siamkit (`siamkit serve {model}`, or "
            "siamkit.export.load_model) to finish that save"
        )
    if not path.exists():
        cmd = _export_command(path, model_path, default_model, False)
        return f"{shown} does not exist; {whole} there, or export the model into it with {cmd}"
    if not (path / META_NAME).is_file():
        cmd = _export_command(Path("<new folder>"), model_path, default_model, False)
        return (
            f"{shown} has no {missing}; {whole} here, or export the model again into a new "
            f"folder with {cmd}"
        )
    cmd = _export_command(path, model_path, default_model, True)
    return f"{shown} has no {missing}; {whole} here, or export the model again with {cmd}"


def _checked_runtime(
    folder: str | os.PathLike[str],
    int8: bool,
    fingerprint: str,
    threads: int = 0,
    model_path: str | os.PathLike[str] | None = None,
    default_model: bool = False,
    former: Any = None,
) -> TextOnnxEmbedder:
    """``former``: the model whose ``former_fingerprints()`` (the fingerprints it had before
    its formula changed, as exported then) are accepted too."""
    path, name = Path(folder), INT8_NAME if int8 else ONNX_NAME
    # --force replaces an export already there (an fp32 one without int8)
    force = (path / META_NAME).exists() or (path / name).exists()
    if not (path / META_NAME).is_file() or not (path / name).is_file():
        raise ValueError(
            f"{shown_folder(path)} holds no exported {name}; export the model first with "
            f"{_export_command(path, model_path, default_model, force)}"
        )
    runtime = TextOnnxEmbedder(
        path, int8=int8, threads=threads, model_path=model_path, default_model=default_model
    )
    if (
        runtime.fingerprint != fingerprint
        and runtime.fingerprint not in getattr(former, "former_fingerprints", tuple)()
    ):
        raise ValueError(
            f"{shown_folder(path)} was exported from another model (its fingerprint differs); "
            f"export this model again with {_export_command(path, model_path, default_model, True)}"
        )
    return runtime


def open_text_runtime(
    model: Any,
    folder: str | os.PathLike[str],
    int8: bool,
    model_path: str | os.PathLike[str] | None = None,
    default_model: bool = False,
) -> TextOnnxEmbedder:
    """The ONNX runtime of ``model``'s export in ``folder``, refused unless it exists and was
    exported from this very model (same fingerprint): embeddings of another model would group
    texts at a threshold that is not theirs. ``model_path``: the folder ``model`` was loaded from
    (``default_model``: it is the default model), so a refusal names the command that exports
    it; without either it names the model's folder as a placeholder.

    >>> emb = open_text_runtime(model, "runs/tickets/model/onnx", int8=True)  # doctest: +SKIP
    """
    from siamkit.models import model_fingerprint

    return _checked_runtime(
        folder,
        int8,
        model_fingerprint(model),
        model_path=model_path,
        default_model=default_model,
        former=model,
    )
