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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from siamkit.applications.text.score_map import ScoreMap

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

    ``threads``: ONNX Runtime intra-op threads (0: one per core); ``spin``: let idle threads
    spin-wait between operators (ONNX Runtime's default; off here, see ``__init__``).

    >>> TextOnnxEmbedder("edge/", int8=True).embed(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        int8: bool = False,
        threads: int = 0,
        spin: bool = False,
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
        if not spin:  # waiting threads sleep instead of spinning: on a shared CPU spinning
            # burnt ~40% more CPU time for the same texts (BENCHMARKS.md, 200,000-text dedup)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
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
    ) -> np.ndarray:
        """``N`` texts -> ``(N, D)`` float32 unit rows.

        All windows of all texts are sorted by token count before batching, so a batch pads
        little (on 5,000 short texts: 30% less CPU than batching 64 texts at a time by character
        length). ``progress(windows done, windows)`` is called after each batch.
        """
        from siamkit.applications.text.model import check_texts

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
        pooled = np.empty((len(windows), self.meta["embedding_dim"]), dtype=np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            width = int(lengths[idx].max())
            ids = np.full((len(idx), width), self.meta["pad"], dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, j in enumerate(idx):
                ids[r, : lengths[j]] = windows[j]
                mask[r, : lengths[j]] = 1
            pooled[idx] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            if progress is not None:
                progress(min(s + batch_size, len(order)), len(order))
        out = np.zeros((len(items), pooled.shape[1]), dtype=np.float32)
        np.add.at(out, np.array(owner), pooled * lengths[:, None].astype(np.float32))
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _checked_runtime(
    folder: str | os.PathLike[str], int8: bool, fingerprint: str, threads: int = 0
) -> TextOnnxEmbedder:
    path, name = Path(folder), INT8_NAME if int8 else ONNX_NAME
    if not (path / META_NAME).is_file() or not (path / name).is_file():
        raise ValueError(
            f"{path} holds no exported {name}; export the model first with `siamkit export MODEL "
            f"--format onnx --int8` (or `siamkit text export --out {path} --int8`)"
        )
    runtime = TextOnnxEmbedder(path, int8=int8, threads=threads)
    if runtime.fingerprint != fingerprint:
        raise ValueError(
            f"{path} was exported from another model (its fingerprint differs); export this "
            "model again with `siamkit export MODEL --format onnx --int8 --force`"
        )
    return runtime


def open_text_runtime(model: Any, folder: str | os.PathLike[str], int8: bool) -> TextOnnxEmbedder:
    """The ONNX runtime of ``model``'s export in ``folder``, refused unless it exists and was
    exported from this very model (same fingerprint): embeddings of another model would group
    texts at a threshold that is not theirs.

    >>> emb = open_text_runtime(model, "runs/tickets/model/onnx", int8=True)  # doctest: +SKIP
    """
    from siamkit.models import model_fingerprint

    return _checked_runtime(folder, int8, model_fingerprint(model))


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
    ) -> None:
        from siamkit.distances import get_distance

        self.runtime = runtime
        self.distance = get_distance(distance)
        self.threshold = threshold
        self.score_map = score_map
        self.fingerprint: str = runtime.fingerprint
        self.precision = "int8" if int8 else "fp32"
        self.max_length = int(runtime.meta["max_length"])
        self.overlap = int(runtime.meta["overlap"])
        self.last_chunked = 0

    @property
    def embedding_dim(self) -> int:
        return self.runtime.embedding_dim

    @property
    def distance_name(self) -> str:
        return str(self.distance.name)

    @property
    def input_shape(self) -> None:
        """``None``: the model embeds strings, not tensors of one shape."""
        return None

    def token_stats(self, texts: Sequence[str]) -> tuple[list[int], int]:
        return self.runtime.token_stats(texts)

    def embed(self, texts: Sequence[str] | str, role: str = "query") -> Any:
        """Texts -> ``(N, D)`` unit vectors as a float32 CPU tensor (shared weights: one tower)."""
        import torch

        from siamkit.applications.text.model import ROLES

        if role not in ROLES:
            raise ValueError(f"role is 'query' or 'document', got {role!r}")
        z = self.runtime.embed([texts] if isinstance(texts, str) else texts)
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
    runtime = _checked_runtime(Path(model_dir) / EXPORT_DIR, int8, fingerprint, threads or 0)
    threshold = doc.get("threshold")
    score_map = doc["model"].get("score_map")
    return TextOnnxModel(
        runtime,
        str(doc.get("distance") or "cosine"),
        None if threshold is None else float(threshold),
        int8,
        None if score_map is None else ScoreMap.from_dict(score_map),
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
