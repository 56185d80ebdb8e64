"""ONNX export of a text twin, with its tokenizer, and a torch-free runtime for it.

The graph maps ``input_ids, attention_mask`` ``(N, L)`` int64 to ``(N, D)`` mean-pooled token
vectors; the runtime averages a long text's windows and L2-normalises, as ``model.embed`` does. :class:`TextOnnxEmbedder` tokenizes with the
``tokenizers`` library and runs ONNX Runtime: no torch, no transformers. Long texts are split
into the same overlapping windows as :class:`~siamkit.encoders.text.TextEncoder`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ONNX_NAME, INT8_NAME, META_NAME = "text.onnx", "text.int8.onnx", "text_onnx.json"
EXPORT_DIR = "onnx"  # ``siamkit export MODEL`` of a text bundle writes MODEL/onnx/
FP32_MIN_COSINE = 0.9999  # an fp32 graph below this on the probe texts is not written
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
    """Write ``text.onnx`` (and ``text.int8.onnx``), ``tokenizer/`` and ``text_onnx.json`` to ``folder``.

    >>> export_text_onnx(load_text_model(), "edge/")  # doctest: +SKIP
    """
    import torch

    from siamkit.encoders.text import mean_pool
    from siamkit.models import model_fingerprint

    if not model.share_weights:
        raise ValueError("ONNX export covers shared-weight text models; this one has two towers")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    enc = model.encoder

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.t = enc.transformer

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            h = self.t(input_ids=ids, attention_mask=mask).last_hidden_state  # (N, L, F)
            return mean_pool(h, mask)  # (N, F); windows are averaged, then normalised, outside

    ids = torch.full((2, 16), 1000, dtype=torch.long)
    axes = {
        "input_ids": {0: "n", 1: "l"},
        "attention_mask": {0: "n", 1: "l"},
        "embedding": {0: "n"},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Graph().eval(), (ids, torch.ones_like(ids)), str(out / ONNX_NAME),
            input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes=axes, opset_version=17, dynamo=False,
        )  # fmt: skip
    if int8:
        quantize_int8(out / ONNX_NAME, out / INT8_NAME)
    enc.tokenizer.save_pretrained(str(out / "tokenizer"))
    tok = enc.tokenizer
    meta = {
        "max_length": enc.max_length,
        "overlap": enc.overlap,
        "cls": tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id,
        "sep": tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id,
        "pad": tok.pad_token_id or 0,
        "embedding_dim": model.embedding_dim,
        "threshold": model.threshold,
        "fingerprint": model_fingerprint(model),
    }
    (out / META_NAME).write_text(json.dumps(meta, indent=2))
    return out


def quantize_int8(fp32: Path, int8: Path) -> None:
    """Dynamic int8 quantisation of the weights, one scale per output channel.

    On 256 Lee background sentences with all-MiniLM-L6-v2, cosine to the PyTorch embeddings was
    at least 0.986 (median 0.992) and Lee r 0.659 (PyTorch 0.656); one scale per tensor gave
    0.929 (median 0.961) and r 0.651 at about the same speed (BENCHMARKS.md, issue 16 export).
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


class TextOnnxEmbedder:
    """``embed(list[str]) -> (N, D)`` with ONNX Runtime and ``tokenizers`` (no torch).

    >>> TextOnnxEmbedder("edge/", int8=True).embed(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self, folder: str | os.PathLike[str], int8: bool = False, threads: int = 0
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = Path(folder)
        if not (path / META_NAME).is_file():
            raise ValueError(f"{path} has no {META_NAME}; export it with export_text_onnx first")
        self.meta = json.loads((path / META_NAME).read_text())
        tok_file = path / "tokenizer" / "tokenizer.json"
        if not tok_file.is_file():
            raise ValueError(f"{path} has no tokenizer/tokenizer.json")
        self.tokenizer = Tokenizer.from_file(str(tok_file))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(path / (INT8_NAME if int8 else ONNX_NAME)), opts, providers=["CPUExecutionProvider"]
        )
        self.fingerprint = self.meta["fingerprint"]
        self.threshold = self.meta["threshold"]
        self.embedding_dim = int(self.meta["embedding_dim"])
        self.last_chunked = 0  # how many texts of the last ``embed`` were split into windows

    def _windows(self, ids: list[int]) -> list[list[int]]:
        m = self.meta
        head = [] if m["cls"] is None else [m["cls"]]
        tail = [] if m["sep"] is None else [m["sep"]]
        size = m["max_length"] - len(head) - len(tail)
        step = size - m["overlap"]
        starts = range(0, max(len(ids) - m["overlap"], 1), step) if len(ids) > size else [0]
        return [head + ids[s : s + size] + tail for s in starts]

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """``N`` texts -> ``(N, D)`` float32 unit rows."""
        from siamkit.applications.text.model import check_texts

        items = check_texts(texts)
        encs = self.tokenizer.encode_batch(items, add_special_tokens=False)
        windows, owner = [], []
        chunked = 0
        for i, e in enumerate(encs):
            ws = self._windows(list(e.ids))
            chunked += len(ws) > 1
            for w in ws:
                windows.append(w)
                owner.append(i)
        self.last_chunked = chunked
        order = sorted(range(len(windows)), key=lambda j: -len(windows[j]))
        pooled = np.empty((len(windows), self.meta["embedding_dim"]), dtype=np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            width = max(len(windows[j]) for j in idx)
            ids = np.full((len(idx), width), self.meta["pad"], dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, j in enumerate(idx):
                ids[r, : len(windows[j])] = windows[j]
                mask[r, : len(windows[j])] = 1
            pooled[idx] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        weights = np.array([len(w) for w in windows], dtype=np.float32)
        out = np.zeros((len(items), pooled.shape[1]), dtype=np.float32)
        np.add.at(out, np.array(owner), pooled * weights[:, None])
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def open_text_runtime(model: Any, folder: str | os.PathLike[str], int8: bool) -> TextOnnxEmbedder:
    """The ONNX runtime of ``model``'s export in ``folder``, refused unless it exists and was
    exported from this very model (same fingerprint): embeddings of another model would group
    texts at a threshold that is not theirs.

    >>> emb = open_text_runtime(model, "runs/tickets/model/onnx", int8=True)  # doctest: +SKIP
    """
    from siamkit.models import model_fingerprint

    path, name = Path(folder), INT8_NAME if int8 else ONNX_NAME
    if not (path / META_NAME).is_file() or not (path / name).is_file():
        raise ValueError(
            f"{path} holds no exported {name}; export the model first with `siamkit export MODEL "
            f"--format onnx --int8` (or `siamkit text export --out {path} --int8`)"
        )
    runtime = TextOnnxEmbedder(path, int8=int8)
    if runtime.fingerprint != model_fingerprint(model):
        raise ValueError(
            f"{path} was exported from another model (its fingerprint differs); export this "
            "model again with `siamkit export MODEL --format onnx --int8 --force`"
        )
    return runtime


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
    model: Any, folder: str | os.PathLike[str], int8: bool, texts: Sequence[str] = PROBE_TEXTS
) -> tuple[float, float]:
    """``(max |onnx - torch|, min cosine(onnx, torch))`` over ``texts`` for one exported graph."""
    import torch

    with torch.inference_mode():
        want = model.embed(list(texts)).float().cpu().numpy()
    got = TextOnnxEmbedder(folder, int8=int8).embed(list(texts))
    return float(np.abs(got - want).max()), float((got * want).sum(axis=1).min())


def export_text_bundle(
    model: Any, folder: str | os.PathLike[str], int8: bool = False, force: bool = False
) -> list[ExportedText]:
    """Export to ``folder`` with the tokenizer, check parity with PyTorch, then move it in place.

    The files are written to a temporary folder beside ``folder`` and moved in only when the
    fp32 graph's embeddings reach cosine :data:`FP32_MIN_COSINE` with the model's on every
    probe text; an existing ``folder`` is replaced only with ``force``. Nothing is half-written.

    >>> export_text_bundle(load_text_model("runs/tickets/model"), "edge/", int8=True)  # doctest: +SKIP
    """
    out = Path(folder)
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; replace it with force=True")
    if out.exists() and not (out / META_NAME).is_file():
        raise ValueError(f"{out} exists and is not a text ONNX export; choose another folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        export_text_onnx(model, tmp, int8=int8)
        rows = []
        for precision, name in (("fp32", ONNX_NAME), ("int8", INT8_NAME))[: 1 + int8]:
            gap, cos = onnx_parity(model, tmp, int8=precision == "int8")
            rows.append(ExportedText(precision, out / name, (tmp / name).stat().st_size, gap, cos))
        if rows[0].min_cosine < FP32_MIN_COSINE:
            raise ValueError(
                f"the fp32 ONNX graph's embeddings differ from PyTorch's (cosine "
                f"{rows[0].min_cosine:.6f} < {FP32_MIN_COSINE}); nothing was written"
            )
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows
