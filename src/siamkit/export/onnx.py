"""Export a siamkit model's embedding network to ONNX, preprocessing included.

The exported graph maps the same ``(N, C, H, W)`` float batch in ``[0, 1]`` that ``model.embed``
takes to the ``(N, D)`` embeddings, with a dynamic batch dimension: the model's mean/std
normalisation is part of the graph (eval-mode batch norm is folded into the convolutions by the
torchscript exporter, and by ONNX Runtime when it loads a dynamo export). The file's ``metadata_props`` record the siamkit version, embedding size, distance,
calibrated threshold, input shape, preprocessing and the torch model's fingerprint (a
half-twin's also which tower the file is and both towers' input shapes); a model folder also
gets an ``onnx.json`` sidecar listing its exports (``siamkit.json`` is untouched).

Example:
    >>> export_onnx("runs/shoes/model").path  # doctest: +SKIP
    PosixPath('runs/shoes/model/model.onnx')
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from siamkit._version import __version__
from siamkit.atomic import atomic_path
from siamkit.clauses import listed
from siamkit.distances import list_distances
from siamkit.encoders.text import TextEncoder, generic_text_model_refusal, over_text_encoder
from siamkit.export.bundle import load_model, read_model_config
from siamkit.export.parity import (
    PARITY_ATOL,
    ParityNotCheckedWarning,
    exporter_failure_reason,
    max_abs_diff,
    parity_session,
    warn_unchecked,
)
from siamkit.export.runtime import (
    INT8_FILE,
    METADATA_FORMAT,
    METADATA_VERSION,
    ONNX_FILE,
)
from siamkit.export.sidecar import SIDECAR_FILE, read_sidecar, record_export
from siamkit.models import (
    HalfTwinNetwork,
    JoinedEmbedding,
    Preprocess,
    SiameseNetwork,
    model_fingerprint,
)
from siamkit.progress import step

log = logging.getLogger("siamkit.export")

__all__ = [
    "INT8_FILE",
    "ONNX_FILE",
    "SIDECAR_FILE",
    "ExportError",
    "OnnxExport",
    "ParityNotCheckedWarning",
    "document_path",
    "export_onnx",
    "read_sidecar",
    "record_export",
]

Model = SiameseNetwork | HalfTwinNetwork | JoinedEmbedding
INPUT_NAME, OUTPUT_NAME = "images", "embedding"
EXPORTERS = ("torchscript", "dynamo")
#: The oldest opset the dynamo exporter writes: asked for an older one, it wrote 18 anyway
#: (its down-conversion fails on ReduceMean's axes input, printing a traceback on stderr).
DYNAMO_MIN_OPSET = 18


class ExportError(ValueError):
    """A model that cannot be exported, or an export that does not reproduce the torch model."""


@dataclass(frozen=True)
class OnnxExport:
    """Where an export was written, its metadata, and how closely it matches the source model.

    ``max_abs_diff`` is the largest embedding difference to the torch model on a check batch
    (``None`` when onnxruntime is not installed and the check was skipped, which
    :func:`export_onnx` warns of: :class:`ParityNotCheckedWarning`). ``document`` is a
    half-twin's branch g graph, written beside branch f's (``path``) by the same export.
    """

    path: Path
    metadata: dict[str, str]
    max_abs_diff: float | None
    size_bytes: int
    document: OnnxExport | None = None  # a half-twin's branch g graph, exported with branch f


def import_onnx() -> Any:
    try:
        import onnx
    except ImportError as err:
        raise ImportError(
            "ONNX export needs the onnx package; pip install 'siamkit[onnx]'"
        ) from err
    return onnx


class _EmbedGraph(nn.Module):
    """What gets traced: input checks off, preprocessing + encoder + head on (and the appearance
    features of a :class:`JoinedEmbedding`, joined in the graph)."""

    def __init__(self, model: Model, branch: str) -> None:
        super().__init__()
        self.model, self.branch = model, branch

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(self.model, HalfTwinNetwork):
            return self.model.embed(x, branch=self.branch, check=False)
        return self.model.embed(x, check=False)


def kind_without_export(folder: str | os.PathLike[str], kind: str | None) -> str | None:
    """Why a model folder of ``kind`` has no ``export_onnx`` graph, in one sentence naming what
    to do instead; ``None`` for the kinds it exports (a tracker or dlib's face model went on to
    a misleading "learned distance" refusal or an AttributeError)."""
    if kind == "siamfc":
        return (
            f"{folder} is a tracker (SiamFC), not an embedding model: export it with `siamkit "
            f"export-tracker {folder} --out FOLDER` (run by `siamkit track --onnx FOLDER`)"
        )
    if kind == "dlib_face":
        return (
            f"{folder} is dlib's face model, which runs in dlib rather than torch and has no ONNX "
            "graph: export a face model trained on face chips (`siamkit train "
            "configs/faces-chips.yaml`) instead"
        )
    return None


def _source(model: Any) -> tuple[Model, Path | None, str]:
    """``(model, model folder or None, fingerprint)`` from a folder path or a model object."""
    if isinstance(model, (str, os.PathLike)):
        folder = Path(model)
        doc = read_model_config(folder)
        why = kind_without_export(folder, (doc.get("model") or {}).get("kind"))
        if why is not None:
            raise ExportError(why)
        step(f"loading the model from {folder}")
        net = load_model(folder)
        return net, folder, str(doc.get("fingerprint") or model_fingerprint(net))
    if not isinstance(model, (SiameseNetwork, HalfTwinNetwork, JoinedEmbedding)):
        raise ExportError(
            "export_onnx takes a model folder or a SiameseNetwork/HalfTwinNetwork/JoinedEmbedding, "
            f"got {type(model).__name__}"
        )
    return model, None, model_fingerprint(model)


def _preprocess(model: Model, branch: str) -> Preprocess:
    if branch not in ("f", "g"):
        raise ExportError(f"branch is 'f' or 'g', got {branch!r}")
    if isinstance(model, HalfTwinNetwork):
        return model.preprocess_g if branch == "g" else model.preprocess_f
    if branch == "g":
        raise ExportError("branch='g' is for half-twin networks; a Siamese network has one branch")
    return model.preprocess


def _input_shape(prep: Preprocess, override: Any, branch: str = "f") -> tuple[int, ...]:
    if override is not None:
        shape = tuple(int(s) for s in override)
        recorded = None if prep.input_shape is None else tuple(prep.input_shape)
        if recorded is not None and shape != recorded:  # it replaced the recorded one
            raise ExportError(
                f"the model records its input shape {recorded}, and its export takes images of "
                f"that shape, not {shape}: leave --input-shape (input_shape) out"
            )
        return shape
    if prep.input_shape is None and branch == "g":
        raise ExportError(
            "branch g of the half-twin does not record its input shape (preprocess_g), so its "
            "ONNX input cannot be fixed; save the model with preprocess_g=Preprocess("
            "input_shape=...), or export branch f alone (branch='f', --branch f)"
        )
    if prep.input_shape is None:
        raise ExportError(
            "the model does not record its input shape (Preprocess(input_shape=...)), so the ONNX "
            "input cannot be fixed; pass input_shape=(C, H, W) to export_onnx / --input-shape"
        )
    return tuple(prep.input_shape)


def _check_exportable(model: Model) -> None:
    if model.distance_name not in list_distances():
        fixed = list_distances()
        raise ExportError(
            f"the model compares embeddings with a learned distance ({model.distance_name!r}) "
            "whose weights run in torch, so an ONNX-only device could not compare them: serve "
            "this model with PyTorch (siamkit serve MODEL, --runtime torch), or train one with a "
            f"fixed model.distance ({listed(fixed, 'or')}) to export it"
        )
    if getattr(model, "score_norm", None) is not None:
        raise ExportError(
            "the model scores pairs against a stored cohort (eval.score_norm), and its threshold "
            "fits those normalised scores, not the raw distances an ONNX device computes; export "
            "a model trained with eval.score_norm: none (or call set_score_norm(None) and "
            "calibrate a new threshold)"
        )


def _metadata(
    model: Model, fingerprint: str, shape: tuple[int, ...], branch: str, prep: Preprocess
) -> dict[str, str]:
    return {
        "format": METADATA_FORMAT,
        "format_version": json.dumps(METADATA_VERSION),
        "siamkit_version": __version__,
        "embedding_dim": json.dumps(int(model.embedding_dim)),
        "distance": model.distance_name,
        "threshold": json.dumps(None if model.threshold is None else float(model.threshold)),
        "input_shape": json.dumps(list(shape)),
        "fingerprint": fingerprint,
        "preprocess": json.dumps({**prep.config(), "folded_into_graph": True}),
        "model_kind": str(model.kind),
        "branch": branch,
        "precision": "fp32",
        "input": json.dumps({"name": INPUT_NAME, "dtype": "float32", "range": [0.0, 1.0]}),
        "output": json.dumps({"name": OUTPUT_NAME, "dtype": "float32"}),
    }


@contextlib.contextmanager
def _captured_stdout() -> Iterator[list[str]]:
    """Send what is written to file descriptor 1 (stdout) while the block runs into a list
    instead: the torchscript exporter's C++ log prints the whole TorchScript graph there (over a
    hundred lines) when an operator fails, before the exception says what went wrong."""
    out: list[str] = []
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no usable descriptor 1: nothing to capture
        yield out
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield out
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            out.append(sink.read().decode(errors="replace"))


def _other_exporter_advice(exporter: str) -> str:
    """What to try after ``exporter`` failed or gave other numbers: the other one, or an opset."""
    other = "dynamo" if exporter == "torchscript" else "torchscript"
    return f"try the other exporter (exporter={other!r}) or another opset"


@contextlib.contextmanager
def quiet_logger(name: str | None = None) -> Iterator[None]:
    """Only errors of the logger ``name`` (the root logger for ``None``) while the block runs.

    The dynamo exporter (``"torch.onnx"``, its own stderr handler) logs "torchvision is not
    installed. Skipping torchvision::nms" and three more lines on every export (torchvision is
    not a siamkit dependency); ONNX Runtime's quantiser (the root logger) warns about
    pre-processing on every model. Their errors still show, and a failed export raises
    :class:`ExportError` naming the cause."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _adaptive_pools(graph: nn.Module) -> list[str]:
    """``graph``'s ``nn.AdaptiveAvgPool2d`` layers to a size other than 1 x 1, which the
    torchscript exporter refuses when the output size does not divide the feature map (ONNX has
    no adaptive pooling); siamkit's :class:`~siamkit.encoders.signet.GridAvgPool2d` exports as
    cell means and is left out."""
    from siamkit.encoders.signet import GridAvgPool2d

    return [
        f"{name} ({module})"
        for name, module in graph.named_modules()
        if isinstance(module, nn.AdaptiveAvgPool2d)
        and not isinstance(module, GridAvgPool2d)
        and module.output_size not in (1, (1, 1))
    ]


def _torch_export(
    graph: nn.Module, shape: tuple[int, ...], path: Path, opset: int, exporter: str
) -> None:
    dummy = torch.rand(2, *shape)
    kwargs: dict[str, Any] = {"input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME]}
    if exporter == "dynamo":  # optimize=False: see _fold_constants
        kwargs.update(dynamo=True, dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
                      external_data=False, verbose=False, optimize=False)  # fmt: skip
    else:
        kwargs.update(dynamo=False, do_constant_folding=True,
                      dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})  # fmt: skip
    quiet: contextlib.AbstractContextManager[list[str]] = (
        _captured_stdout() if exporter == "torchscript" else contextlib.nullcontext([])
    )
    try:
        with (
            warnings.catch_warnings(),
            torch.no_grad(),
            quiet_logger("torch.onnx"),
            quiet as printed,
        ):
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, (dummy,), str(path), opset_version=opset, **kwargs)
    except Exception as err:  # the exporters raise many unrelated types
        dump = "".join(printed).strip()
        if dump:  # the TorchScript graph at the failure: for a bug report, not for the user
            log.debug("torch.onnx.export (%s) printed before failing:\n%s", exporter, dump)
        pools = _adaptive_pools(
            getattr(graph, "model", graph)
        )  # names as the user's model has them
        if exporter == "torchscript" and pools and "adaptive_avg_pool2d" in str(err):
            reason = exporter_failure_reason(
                err, "adaptive_avg_pool2d to an output size that does not divide the feature map"
            )
            advice = (
                f"replace its {pools[0]} with siamkit.encoders.signet.GridAvgPool2d "
                "(nn.AdaptiveAvgPool2d's numbers in PyTorch, cell means in ONNX) or use an input "
                "size whose last feature map the output size divides"
            )
        else:
            reason, advice = exporter_failure_reason(err), _other_exporter_advice(exporter)
        raise ExportError(
            f"torch.onnx.export ({exporter}) could not export this model ({reason}); {advice}"
        ) from err
    if dump := "".join(printed).strip():
        log.debug("torch.onnx.export (%s) printed:\n%s", exporter, dump)
    if exporter == "dynamo":
        _fold_constants(path)


def _fold_constants(path: Path) -> None:
    """Fold the constant parts of the dynamo exporter's graph at ``path`` (exactly), without
    onnxscript's rewrite rules, which ``torch.onnx.export(optimize=True)`` also runs: those match
    constants approximately and drop an ``x + eps`` whose ``eps`` is under 1e-8 as if it were
    ``x + 0``, so HOG features' ``sqrt(gx**2 + gy**2 + 1e-12)`` became 0 instead of 1e-6 on flat
    images and a joined model's embedding of a blank image changed (by 0.18). ONNX Runtime fuses
    the rest (batch norm into convolutions) when it loads the graph."""
    import onnx
    from onnxscript import optimizer

    proto = onnx.load(str(path))
    optimizer.fold_constants(proto)
    optimizer.remove_unused_nodes(proto)
    onnx.save_model(proto, str(path))


_CHECK_INPUTS = ("random", "random", "random", "blank (all 0)", "flat (all 0.5)")


def _parity(
    graph: nn.Module, path: Path, shape: tuple[int, ...], what: str = "the model"
) -> float | None:
    sess = parity_session(path)
    if sess is None:
        return None
    # random inputs plus a blank and a flat one: real images have flat regions (zero gradients),
    # where an op can differ between torch and ONNX (atan2(0, 0) is NaN in ONNX)
    x = torch.cat(
        [
            torch.rand(3, *shape, generator=torch.Generator().manual_seed(0)),
            torch.zeros(1, *shape),
            torch.full((1, *shape), 0.5),
        ]
    )
    step(f"checking the ONNX graph against PyTorch on {len(x)} images (random, blank, flat)")
    with torch.no_grad():
        want = graph(x).numpy()
    bad = [_CHECK_INPUTS[i] for i in range(len(x)) if not np.isfinite(want[i]).all()]
    if bad:  # not the export's fault: it said the ONNX graph gave NaN where torch did not
        kinds = list(dict.fromkeys(bad))
        inputs = f"a {kinds[0]} input" if len(kinds) == 1 else f"{listed(kinds)} inputs"
        raise ExportError(
            f"{what} gives NaN or infinite embeddings in PyTorch itself for {inputs}, so "
            "its ONNX export cannot be checked against it and nothing was written: make it give "
            "finite embeddings for such inputs (an eps where it divides or takes a square root; "
            "real images have blank and flat regions)"
        )
    worst = 0.0
    for batch in (x[:1], x):  # batch 1 and a larger one: the batch dimension must be dynamic
        got = sess.run(None, {INPUT_NAME: batch.numpy()})[0]
        worst = max(worst, max_abs_diff(got, want[: len(batch)]))
    return worst


def document_path(query: str | os.PathLike[str]) -> Path:
    """Where a half-twin export puts its branch g graph, beside branch f's ``query`` file:
    ``X.document.onnx`` for ``X.onnx`` (as a text half-twin's ``text.document.onnx``).

    >>> document_path("edge/model.onnx").name
    'model.document.onnx'
    """
    path = Path(query)
    if path.suffix.lower() == ".onnx":
        return path.with_name(f"{path.stem}.document{path.suffix}")
    return path.with_name(path.name + ".document.onnx")


def export_onnx(
    model: str | os.PathLike[str] | Model,
    out_path: str | os.PathLike[str] | None = None,
    opset: int | None = None,
    exporter: str = "torchscript",
    branch: str | None = None,
    input_shape: tuple[int, ...] | None = None,
    atol: float = PARITY_ATOL,
) -> OnnxExport:
    """Export the embedding network (preprocessing folded in) to ONNX with a dynamic batch size.

    A half-twin network (two towers: trained with ``task: half_twin``, or a HalfTwinNetwork saved in
    Python) embeds what is searched with branch f and what is enrolled with branch g, so by default
    both go out: f's graph at ``out_path`` and g's beside it (:func:`document_path`,
    ``model.document.onnx``), named in f's metadata (``document_graph``), each checked against its
    torch branch; a gallery or ``siamkit serve --runtime onnx`` then embeds each role with its
    branch (:class:`~siamkit.export.OnnxModel`).

    Args:
        model: a model folder written by :func:`siamkit.save_model`, or a model object.
        out_path: the ``.onnx`` file; default ``model.onnx`` inside the model folder (required
            for a model object). A model folder's ``onnx.json`` records exports written into it.
        opset: ONNX opset version; default 17 for torchscript and :data:`DYNAMO_MIN_OPSET`
            (18) for dynamo, as ``siamkit export`` picks (a fixed 17 made the dynamo default
            an error).
        exporter: ``"torchscript"`` (default: exact opset, one self-contained file, fast) or
            ``"dynamo"`` (``torch.export``-based; needs onnxscript, opset >= 18).
        branch: ``None`` (default): the model's graph, a half-twin's two; ``"f"`` or ``"g"``:
            only that branch of a half-twin (a file a gallery or the service refuses).
        input_shape: ``(C, H, W)`` / ``(F,)`` when the model does not record one (branch f's).
        atol: the export is checked against the torch model with ONNX Runtime (if installed);
            a larger embedding difference raises :class:`ExportError` and writes nothing.
            Without onnxruntime the file is written unchecked (``max_abs_diff`` None) with a
            :class:`ParityNotCheckedWarning` saying how to install it.

    Returns:
        :class:`OnnxExport` with the path, metadata and measured difference (a half-twin's
        branch g graph in its ``document``).

    Raises:
        ExportError: the model cannot be exported (learned distance, no input shape, an
            operation the exporter does not support) or the export does not reproduce it.
        ImportError: the ``onnx`` package is missing.

    >>> export_onnx(net, "edge/model.onnx").max_abs_diff < 1e-4  # doctest: +SKIP
    True
    """
    import_onnx()
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter is one of {', '.join(EXPORTERS)}, got {exporter!r}")
    if opset is None:
        opset = DYNAMO_MIN_OPSET if exporter == "dynamo" else 17
    if exporter == "dynamo" and opset < DYNAMO_MIN_OPSET:  # it wrote 18, recorded as opset
        raise ValueError(
            f"the dynamo exporter writes opset {DYNAMO_MIN_OPSET} or newer, not {opset}: pass "
            f"opset={DYNAMO_MIN_OPSET} or more, or exporter='torchscript' for opset {opset}"
        )
    net, folder, fingerprint = _source(model)
    _check_exportable(net)
    both = branch is None and isinstance(net, HalfTwinNetwork)
    if out_path is None and folder is None:
        raise ValueError("pass out_path when exporting a model object (not a model folder)")
    dest = Path(out_path) if out_path is not None else folder / ONNX_FILE  # type: ignore[operator]
    graph = _Graph(net, fingerprint, opset, exporter, atol)
    towers = _tower_shapes(net, branch or "f", input_shape)
    if not both:
        written = graph.write(branch or "f", dest, input_shape, towers)
        graph.record(written, folder)
        _warn_unchecked(written)
        return written
    # both graphs are written beside their files and renamed in only once both are checked, g's
    # first (f's metadata names it): a failed f leaves no new g graph, and an earlier export's
    # pair (replaced with --force) as it was, not its f graph naming a g graph it removed
    doc_dest = document_path(dest)
    with atomic_path(dest) as query_tmp, atomic_path(doc_dest) as doc_tmp:
        doc = graph.write("g", doc_dest, None, towers, into=doc_tmp)
        query = graph.write(
            "f", dest, input_shape, {"document_graph": doc_dest.name, **towers}, into=query_tmp
        )
    graph.record(doc, folder)
    graph.record(query, folder)  # last: onnx.json's input shape and preprocessing are f's
    _warn_unchecked(query, doc)
    return replace(query, document=doc)


def _warn_unchecked(*exports: OnnxExport) -> None:
    """Warn that ``exports`` were written without their parity check (``max_abs_diff`` None):
    with onnxruntime missing, an export whose numbers differ would otherwise pass unnoticed."""
    unchecked = [str(e.path) for e in exports if e.max_abs_diff is None]
    if unchecked:
        warn_unchecked(unchecked, "the torch model", ", so max_abs_diff is None", stacklevel=3)


def _tower_shapes(net: Model, branch: str, input_shape: tuple[int, ...] | None) -> dict[str, str]:
    """A half-twin's ``tower_input_shapes`` metadata: each tower's input shape that is known
    (``input_shape`` is ``branch``'s when given), so that a graph read alone (``--branch``, or a
    branch g file renamed) can name the other tower for a batch at its shape, as the model does;
    ``{}`` for other models."""
    if not isinstance(net, HalfTwinNetwork):
        return {}
    shapes = {}
    for tower, prep in (("f", net.preprocess_f), ("g", net.preprocess_g)):
        shape = input_shape if tower == branch and input_shape is not None else prep.input_shape
        if shape is not None:
            shapes[tower] = [int(s) for s in shape]
    return {"tower_input_shapes": json.dumps(shapes)} if shapes else {}


class _Graph:
    """Writes the graphs of one export (a half-twin's two) with the same settings."""

    def __init__(self, net: Model, fingerprint: str, opset: int, exporter: str, atol: float):
        self.net, self.fingerprint = net, fingerprint
        self.opset, self.exporter, self.atol = opset, exporter, atol
        self._half_twin = isinstance(net, HalfTwinNetwork)

    def write(
        self,
        branch: str,
        dest: Path,
        input_shape: tuple[int, ...] | None,
        extra: dict[str, str] | None = None,
        into: Path | None = None,
    ) -> OnnxExport:
        """Trace ``branch`` to ``dest`` and check it against the torch branch; ``into``: a
        temporary file that the caller renames to ``dest`` (by default the graph is renamed to
        ``dest`` here, once checked)."""
        onnx_mod = import_onnx()
        prep = _preprocess(self.net, branch)
        tower = getattr(self.net, f"encoder_{branch}" if self._half_twin else "encoder", None)
        if isinstance(tower, TextEncoder) and over_text_encoder(self.net):
            # no input shape would make it embed texts or images; a half-twin's other tower
            # (an image one beside a text one) is still exported alone with --branch
            raise ExportError(generic_text_model_refusal("the model", self.net))
        shape = _input_shape(prep, input_shape, branch)
        dest.parent.mkdir(parents=True, exist_ok=True)
        graph = _EmbedGraph(copy.deepcopy(self.net).cpu().eval(), branch).eval()
        meta = _metadata(self.net, self.fingerprint, shape, branch, prep) | (extra or {})
        half_twin = isinstance(self.net, HalfTwinNetwork)
        what, of = (
            (f"branch {branch} of the model", f" of branch {branch}")
            if half_twin
            else ("the model", "")
        )
        target: contextlib.AbstractContextManager[Path] = (
            atomic_path(dest) if into is None else contextlib.nullcontext(into)
        )
        with target as tmp:
            step(f"tracing {what} to ONNX ({self.exporter} exporter, opset {self.opset})")
            _torch_export(graph, shape, tmp, self.opset, self.exporter)
            proto = onnx_mod.load(str(tmp))
            onnx_mod.helper.set_model_props(proto, meta)
            onnx_mod.checker.check_model(proto)
            onnx_mod.save_model(proto, str(tmp))
            diff = _parity(graph, tmp, shape, what)
            if diff == float("inf"):
                raise ExportError(
                    f"the ONNX export{of} gives NaN or infinite embeddings where the torch model "
                    "does not (checked on random, blank and flat images); nothing was written"
                )
            if diff is not None and diff > self.atol:
                advice = _other_exporter_advice(self.exporter)
                raise ExportError(
                    f"the ONNX export{of} differs from the torch model by up to {diff:.2e} "
                    f"(allowed {self.atol:.0e}); nothing was written — {advice}"
                )
            step(f"writing {dest}")
            size = tmp.stat().st_size
        return OnnxExport(dest, meta, diff, size)

    def record(self, export: OnnxExport, folder: Path | None) -> None:
        """List ``export`` in the model folder's ``onnx.json`` when it was written into it."""
        if folder is not None and export.path.parent.resolve() == folder.resolve():
            info = {"precision": "fp32", "opset": self.opset, "exporter": self.exporter,
                    "max_abs_diff": export.max_abs_diff}  # fmt: skip
            record_export(export.path, info, export.metadata)
