"""ONNX export of a text twin, with its tokenizer, and a torch-free runtime for it.

The graph maps ``input_ids, attention_mask`` ``(N, L)`` int64 to ``(N, D)`` pooled token
vectors (the mean, or the CLS token's, as the model pools); the runtime averages a long text's windows and L2-normalises, as ``model.embed`` does. :class:`TextOnnxEmbedder` tokenizes with the
``tokenizers`` library and runs ONNX Runtime: no torch, no transformers. Long texts are split
into the same overlapping windows as :class:`~siamkit.encoders.text.TextEncoder`.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from siamkit.applications.text.lexical import LexicalTower
from siamkit.applications.text.score_map import ScoreMap
from siamkit.atomic import remove_stale_temp_folders, temp_folder
from siamkit.export.sidecar import TEXT_EXPORT_META
from siamkit.progress import step

ONNX_NAME, INT8_NAME = "text.onnx", "text.int8.onnx"
# a half-twin's document tower (model.share_weights: false), beside its query tower's graphs
DOC_ONNX_NAME, DOC_INT8_NAME = "text.document.onnx", "text.document.int8.onnx"
META_NAME = TEXT_EXPORT_META  # text_onnx.json, which the bundle's refusal of an export reads too
EXPORT_DIR = "onnx"  # ``siamkit export MODEL`` of a text bundle writes MODEL/onnx/
INT8_ACTIVATIONS = "per-token"  # how text.int8.onnx quantises activations (text_onnx.json)
FP32_MIN_COSINE = 0.9999  # an fp32 graph below this on the probe texts is not written


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


def graph_names(role: str, int8: bool) -> str:
    """The file of ``role``'s graph (``"query"``: the model's one tower, or a half-twin's query
    tower; ``"document"``: a half-twin's document tower), fp32 or int8."""
    if role == "document":
        return DOC_INT8_NAME if int8 else DOC_ONNX_NAME
    return INT8_NAME if int8 else ONNX_NAME


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
    for role, encoder in towers:
        tower = "" if model.share_weights else f"'s {role} tower"  # a half-twin's two
        _trace_encoder(encoder, out / graph_names(role, False), tower)
        if int8:
            graph = "the graph" if model.share_weights else f"the {role} tower's graph"
            step(
                f"quantising {graph} to int8 (dynamic: weights per channel, activations per token)"
            )
            quantize_int8(out / graph_names(role, False), out / graph_names(role, True))
    _write_export_meta(model, out, int8)
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
            f"{type(err).__name__}: {err}; run it with PyTorch instead (--runtime torch)"
        ) from err


def _write_export_meta(model: Any, out: Path, int8: bool) -> None:
    """The tokenizer, the lexical tower and ``text_onnx.json`` of ``model``'s export."""
    from siamkit.models import model_fingerprint

    enc = model.encoder
    enc.tokenizer.save_pretrained(str(out / "tokenizer"))
    if model.lexical is not None:  # joined after the graph, in numpy, by the runtime
        model.lexical.save(out)
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
        "fingerprint": model_fingerprint(model),
    }
    if not model.share_weights:  # absent for one tower (and all older exports)
        meta["document_tower"] = True
    if int8:  # exports before issue 16's fix lack it: their int8 graph is batch-dependent
        meta["int8_activations"] = INT8_ACTIVATIONS
    (out / META_NAME).write_text(json.dumps(meta, indent=2))


def quantize_int8(fp32: Path, int8: Path, per_row: bool = True) -> None:
    """Dynamic int8 quantisation: weights with one scale per output channel, activations with
    one scale and zero point per row (token) by default (see :func:`rowwise_activations`).

    ``per_row=False`` keeps ONNX Runtime's one scale per activation tensor, computed over the
    whole batch: a text's embedding then depends on the other texts (and the padding) of its
    batch, alone vs batched down to cosine 0.955 on the probe texts with all-MiniLM-L6-v2 (for
    "ok"). With rows, the same text gives the same embedding in any batch, and comes closer to
    PyTorch's (BENCHMARKS.md, "int8 activations per token", issue 16).
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    class _Quiet(logging.Filter):  # its advice to pre-process is for static quantisation
        def filter(self, record: logging.LogRecord) -> bool:
            return "pre-processing before quantization" not in record.getMessage()

    root, quiet = logging.getLogger(), _Quiet()
    root.addFilter(quiet)
    try:
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(quiet)
    if per_row:
        import onnx

        try:
            graph = onnx.load(str(int8))
            rowwise_activations(graph)
            onnx.save(graph, str(int8))
        except BaseException:
            int8.unlink(missing_ok=True)  # not a batch-dependent graph left under the name
            raise


def _only_user(users: dict[str, list[Any]], name: str, op: str) -> Any:
    found = users.get(name, [])
    if len(found) != 1 or found[0].op_type != op:
        raise ValueError(f"{name} should feed one {op} node; the int8 graph has another layout")
    return found[0]


def rowwise_activations(model: Any, symmetric: bool = False) -> int:
    """Rewrite, in place, each ``DynamicQuantizeLinear`` of an ONNX Runtime dynamic-quantised
    graph (``quantize_dynamic``) to quantise its input row by row over the last axis; returns
    how many were rewritten.

    ``DynamicQuantizeLinear`` takes one scale over the whole ``(N, L, F)`` tensor, so a token's
    int8 values depend on every other token of the batch, padding included. Here each token
    ``x`` gets its own ``s = (max(x, 0) - min(x, 0)) / 255`` and zero point ``z``, ``q = round(x
    / s) + z`` as uint8, and ``MatMulInteger(q, W)`` keeps the int8 weights; ONNX Runtime's
    CPU ``MatMulInteger`` takes only a scalar zero point for ``q``, so ``z`` is subtracted after
    it, exactly, in int32: ``y = s * w_scale * (q @ W - z * colsum(W))``. ``symmetric``: ``s =
    max|x| / 127`` and the fixed zero point 128, no correction (faster, coarser).

    Standard ONNX operators only. ONNX Runtime's fusion into ``MatMulIntegerToFloat`` assumes
    one activation scale and gave wrong results on a per-row scale, so the graph does not take
    its shape (``Mul(Cast(MatMulInteger), Mul(a_scale, b_scale))``).
    """
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    users: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    consts: dict[str, Any] = {}

    def const(name: str, value: np.ndarray) -> str:
        name = f"rowq/{name}"
        if name not in consts:
            consts[name] = numpy_helper.from_array(value, name)
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> Any:
        return helper.make_node(op, inputs, [output], name=output, **attrs)

    def reduce(op: str, x: str, out: str) -> Any:  # over the last axis, kept as size 1
        if opset >= 18:
            return node(op, [x, const("axes", np.array([-1], np.int64))], out, keepdims=1)
        return node(op, [x], out, axes=[-1], keepdims=1)

    one, tiny = const("one", np.array(1, np.float32)), const("tiny", np.array(1e-30, np.float32))
    zp = const("zp", np.array(128 if symmetric else 0, np.uint8))
    replace: dict[str, list[Any]] = {}  # a node's first output -> the nodes in its place
    retarget = []  # MatMulInteger nodes to give the new zero point: changed once all is checked
    count = 0
    for k, dq in enumerate(g.node):
        if dq.op_type != "DynamicQuantizeLinear":
            continue
        x, (q, s, z_in) = dq.input[0], dq.output
        p = f"rowq{k}/"
        mmis = users.get(q, [])
        if not mmis or any(m.op_type != "MatMulInteger" or list(m.input[:1]) != [q] for m in mmis):
            raise ValueError(f"{q} should feed MatMulInteger nodes only; cannot quantise per row")
        if symmetric:
            rows = [
                node("Abs", [x], p + "abs"),
                reduce("ReduceMax", p + "abs", p + "amax"),
                node("Div", [p + "amax", const("127", np.array(127, np.float32))], p + "s0"),
                node("Max", [p + "s0", tiny], s),
                node("Div", [x, s], p + "y"),
            ]
        else:
            zero = const("zero", np.array(0, np.float32))
            rows = [
                reduce("ReduceMin", x, p + "min0"),
                reduce("ReduceMax", x, p + "max0"),
                node("Min", [p + "min0", zero], p + "min"),  # 0 stays exact, as in ONNX's
                node("Max", [p + "max0", zero], p + "max"),  # DynamicQuantizeLinear
                node("Sub", [p + "max", p + "min"], p + "range"),
                node("Div", [p + "range", const("255", np.array(255, np.float32))], p + "s0"),
                node("Max", [p + "s0", tiny], s),
                node("Div", [p + "min", s], p + "zneg"),
                node("Neg", [p + "zneg"], p + "zraw"),
                node("Round", [p + "zraw"], p + "z"),
                node("Cast", [p + "z"], p + "zint", to=TensorProto.INT32),
                node("Div", [x, s], p + "xs"),
                node("Add", [p + "xs", p + "z"], p + "y"),
            ]
        rows.append(node("QuantizeLinear", [p + "y", one, zp], q))  # rounds, saturates to uint8
        replace[q] = rows
        for j, mm in enumerate(mmis):
            if len(mm.input) != 4 or mm.input[2] != z_in or mm.input[1] not in inits:
                raise ValueError(f"{mm.name} is not MatMulInteger(x, int8 weights, zero points)")
            cast = _only_user(users, mm.output[0], "Cast")
            mul = _only_user(users, cast.output[0], "Mul")
            other = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
            scales = producer.get(other)
            if scales is None or scales.op_type != "Mul" or s not in scales.input:
                raise ValueError(f"{mul.name} should scale by Mul({s}, weight scale)")
            w_scale = scales.input[1] if scales.input[0] == s else scales.input[0]
            if w_scale not in inits or len(users[other]) != 1:
                raise ValueError(f"{scales.name}: the weight scale should be a constant")
            retarget.append(mm)
            o = f"{p}{j}/"
            acc = cast.input[0]
            post = []
            if not symmetric:  # q @ W - z * colsum(W), exact in int32
                w = numpy_helper.to_array(inits[mm.input[1]]).astype(np.int64)
                wz = numpy_helper.to_array(inits[mm.input[3]]).astype(np.int64)
                if w.ndim != 2:
                    raise ValueError(f"{mm.name}: weights of {w.ndim} dimensions, expected 2")
                colsum = const(f"{k}/{j}/colsum", (w - wz).sum(0).astype(np.int32))
                post += [
                    node("Mul", [p + "zint", colsum], o + "zcol"),
                    node("Sub", [acc, o + "zcol"], o + "acc"),
                ]
                acc = o + "acc"
            post += [
                node("Cast", [acc], o + "accf", to=TensorProto.FLOAT),
                node("Mul", [o + "accf", w_scale], o + "w"),
                node("Mul", [o + "w", s], mul.output[0]),
            ]
            replace[cast.output[0]], replace[other] = [], []
            replace[mul.output[0]] = post
        if any(u.op_type != "MatMulInteger" for u in users.get(z_in, [])) or any(
            u.output[0] not in replace for u in users.get(s, [])
        ):
            raise ValueError(f"{dq.name}'s scale or zero point has other users")
        count += 1
    for mm in retarget:
        mm.input[2] = zp
    nodes = [m for n in g.node for m in replace.get(n.output[0] if n.output else "", [n])]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(consts.values())
    return count


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
            raise ValueError(f"{path} has no {META_NAME}; export it with export_text_onnx first")
        self.meta = json.loads((path / META_NAME).read_text())
        graph = path / (INT8_NAME if int8 else ONNX_NAME)
        self.path = graph  # the graph it runs (siamkit serve's startup line names it)
        if not graph.is_file():  # e.g. int8=True on an export made without int8
            raise ValueError(
                f"{path} has no {graph.name}; export it with "
                f"export_text_onnx(model, {str(path)!r}, int8=True) or "
                f"{_export_command(path, model_path, default_model, True)}"
            )
        tok_file = path / "tokenizer" / "tokenizer.json"
        if not tok_file.is_file():
            raise ValueError(f"{path} has no tokenizer/tokenizer.json")
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
                    f"{path} holds a half-twin's query tower but not its document tower "
                    f"{doc.name}; export it again with "
                    f"{_export_command(path, model_path, default_model, True)}"
                )
            self.doc_session = ort.InferenceSession(
                str(doc), opts, providers=["CPUExecutionProvider"]
            )
        self.fingerprint = self.meta["fingerprint"]
        self.threshold = self.meta["threshold"]
        self.embedding_dim = int(self.meta["embedding_dim"])
        self.lexical: LexicalTower | None = (
            LexicalTower.load(path) if self.meta.get("lexical") else None
        )
        # the graph's output: the embedding less the lexical tower joined after it
        self.pooled_dim = self.embedding_dim - (self.lexical.dim if self.lexical else 0)
        self.last_chunked = 0  # how many texts of the last ``embed`` were split into windows

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
        from siamkit.applications.text.corpus import check_texts

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


def _checked_runtime(
    folder: str | os.PathLike[str],
    int8: bool,
    fingerprint: str,
    threads: int = 0,
    model_path: str | os.PathLike[str] | None = None,
    default_model: bool = False,
) -> TextOnnxEmbedder:
    path, name = Path(folder), INT8_NAME if int8 else ONNX_NAME
    # --force replaces an export already there (an fp32 one without int8)
    force = (path / META_NAME).exists() or (path / name).exists()
    if not (path / META_NAME).is_file() or not (path / name).is_file():
        raise ValueError(
            f"{path} holds no exported {name}; export the model first with "
            f"{_export_command(path, model_path, default_model, force)}"
        )
    runtime = TextOnnxEmbedder(
        path, int8=int8, threads=threads, model_path=model_path, default_model=default_model
    )
    if runtime.fingerprint != fingerprint:
        raise ValueError(
            f"{path} was exported from another model (its fingerprint differs); export this "
            f"model again with {_export_command(path, model_path, default_model, True)}"
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
        folder, int8, model_fingerprint(model), model_path=model_path, default_model=default_model
    )


class TextOnnxModel:
    """A saved text model served by its ONNX export: what the gallery and the service read of a
    text model (``input_kind``, ``embed``, ``distance``, ``threshold``, ``embedding_dim``,
    ``fingerprint``, ``token_stats``), the embedding done by :class:`TextOnnxEmbedder`.

    The fingerprint is the bundle's, so a gallery enrolled with the PyTorch model opens with
    this one and the reverse; the threshold is the bundle's current one (``siamkit calibrate``
    may have changed it after the export). ``score_map`` is the bundle's too (cosine -> the
    graded scores' scale, ``None`` without one): the fingerprint hashes the model's config,
    map included, so the export this runs is the one of the model that map was fitted for.

    >>> load_text_onnx_model("runs/tickets/model", int8=True).embed(["hi"]).shape  # doctest: +SKIP
    torch.Size([1, 384])
    """

    kind = "text-onnx"
    input_kind = "text"
    training = False

    def __init__(
        self,
        runtime: TextOnnxEmbedder,
        distance: str,
        threshold: float | None,
        int8: bool,
        score_map: ScoreMap | None = None,
        transformer_config: dict[str, Any] | None = None,
    ) -> None:
        from siamkit.distances import get_distance

        self.runtime = runtime
        self.distance = get_distance(distance)
        self.threshold = threshold
        self.score_map = score_map
        # the bundle's Hugging Face config of the transformer: which architecture this is (the
        # default thresholds are all-MiniLM-L6-v2's), as a PyTorch model's encoder.hf_config()
        self.transformer_config: dict[str, Any] = dict(transformer_config or {})
        self.fingerprint: str = runtime.fingerprint
        self.precision = "int8" if int8 else "fp32"
        self.max_length = int(runtime.meta["max_length"])
        self.overlap = int(runtime.meta["overlap"])
        self.last_chunked = 0

    @property
    def embedding_dim(self) -> int:
        return self.runtime.embedding_dim

    @property
    def share_weights(self) -> bool:
        """``False`` for a half-twin's export (its document tower's graph beside the query
        tower's), as the PyTorch model's ``share_weights``: galleries record its towers."""
        return not self.runtime.meta.get("document_tower")

    @property
    def lexical(self) -> LexicalTower | None:
        """The lexical tower joined to the embedding (the export's copy), or ``None``."""
        return self.runtime.lexical

    @property
    def distance_name(self) -> str:
        return str(self.distance.name)

    def decision_threshold(self) -> tuple[float, str]:
        """As :meth:`TextSiameseNetwork.decision_threshold`: the bundle's threshold, else
        all-MiniLM-L6-v2's sentence default, and where it comes from."""
        from siamkit.applications.text.similarity import resolve_threshold

        return resolve_threshold(self, None)  # type: ignore[arg-type]

    @property
    def input_shape(self) -> None:
        """``None``: the model embeds strings, not tensors of one shape."""
        return None

    def token_stats(self, texts: Sequence[str]) -> tuple[list[int], int]:
        return self.runtime.token_stats(texts)

    def embed(self, texts: Sequence[str] | str, role: str = "query") -> Any:
        """Texts -> ``(N, D)`` unit vectors as a float32 CPU tensor; ``role="document"``: a
        half-twin's document tower (one tower: the same graph for both roles)."""
        import torch

        z = self.runtime.embed([texts] if isinstance(texts, str) else texts, role=role)
        self.last_chunked = self.runtime.last_chunked
        return torch.from_numpy(z)

    def __call__(self, a: Sequence[str], b: Sequence[str]) -> Any:
        """Distances of the pairs ``(a_i, b_i)``: ``N, N -> (N,)``."""
        if len(a) != len(b):
            raise ValueError(f"pair lists differ in length: {len(a)} and {len(b)}")
        return self.distance.pairwise(self.embed(a), self.embed(b, role="document"))

    def eval(self) -> TextOnnxModel:
        return self

    def __repr__(self) -> str:
        return f"TextOnnxModel({self.precision}, fingerprint {self.fingerprint[:12]}...)"


def load_text_onnx_model(
    model_dir: str | os.PathLike[str], int8: bool = False, threads: int | None = None
) -> TextOnnxModel:
    """The saved text model ``model_dir`` run by its export ``model_dir/onnx`` (``siamkit export
    MODEL --format onnx [--int8]``), refused unless that export exists and was made from this
    very model (same fingerprint). Torch is not used to embed.
    """
    from siamkit.export.bundle import read_model_config

    doc = read_model_config(model_dir)
    fingerprint = doc.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        from siamkit.export.bundle import load_model
        from siamkit.models import model_fingerprint

        fingerprint = model_fingerprint(load_model(model_dir))  # an older bundle: compute it
    runtime = _checked_runtime(
        Path(model_dir) / EXPORT_DIR, int8, fingerprint, threads or 0, model_path=model_dir
    )
    threshold = doc.get("threshold")
    score_map = doc["model"].get("score_map")
    return TextOnnxModel(
        runtime,
        str(doc.get("distance") or "cosine"),
        None if threshold is None else float(threshold),
        int8,
        None if score_map is None else ScoreMap.from_dict(score_map),
        doc["model"].get("transformer"),
    )


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
    next call). Nothing is half-written.

    >>> export_text_bundle(load_text_model("runs/tickets/model"), "edge/", int8=True)  # doctest: +SKIP
    """
    out = Path(folder)
    old = out.with_name(f".{out.name}.old")  # the export being replaced, until the new is in
    if not out.exists() and (old / META_NAME).is_file():
        old.rename(out)  # a replacement killed between its two renames: the earlier export
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; replace it with force=True")
    if out.exists() and not (out / META_NAME).is_file():
        raise ValueError(f"{out} exists and is not a text ONNX export; choose another folder")
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
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows
