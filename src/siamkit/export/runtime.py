"""Run an exported siamkit embedding network with ONNX Runtime: numpy and onnxruntime only.

This module imports no torch and nothing else from siamkit, so an edge device can embed images
with just ``pip install onnxruntime numpy`` (it can even be copied there as a single file). The
exported graph already contains the model's preprocessing (per-channel mean/std), so its input is
the same ``(N, C, H, W)`` float batch in ``[0, 1]`` that ``model.embed`` takes, and the model's
embedding size, distance, calibrated threshold, input shape and fingerprint travel in the ONNX
file's metadata.

Example:
    >>> emb = OnnxEmbedder("runs/shoes/model/model.onnx", threads=1)  # doctest: +SKIP
    >>> emb.embed(np.random.rand(2, 1, 28, 28)).shape  # doctest: +SKIP
    (2, 64)
    >>> emb.distance_name, emb.threshold  # doctest: +SKIP
    ('euclidean', 0.71)
    >>> distances, same = emb.verify(images_a, images_b)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "INT8_FILE",
    "METADATA_FORMAT",
    "ONNX_FILE",
    "OnnxEmbedder",
    "OnnxModelInfo",
    "import_onnxruntime",
    "other_kind_message",
    "pairwise_distance",
    "parse_metadata",
    "resolve_onnx_path",
]

ONNX_FILE = "model.onnx"
"""File name of the fp32 export inside a model folder."""
INT8_FILE = "model.int8.onnx"
"""File name of the int8 export inside a model folder."""
METADATA_FORMAT = "siamkit-onnx"
"""Value of the ``format`` metadata key that marks a siamkit export."""
METADATA_VERSION = 1

_RANGE_SLACK = 1e-3  # rounding around [0, 1] an image batch may carry

_INSTALL_HINT = (
    "pip install 'siamkit[onnx]' (on a device, `pip install onnxruntime numpy` is enough)"
)


def import_onnxruntime() -> Any:
    """Import ``onnxruntime`` or raise an ``ImportError`` that says how to install it."""
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError(f"ONNX Runtime is not installed; {_INSTALL_HINT}") from err
    return onnxruntime


@dataclass(frozen=True)
class OnnxModelInfo:
    """What a siamkit ONNX file says about itself (read from its metadata)."""

    siamkit_version: str
    embedding_dim: int
    distance: str
    threshold: float | None
    input_shape: tuple[int, ...]
    fingerprint: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    precision: str  # "fp32" or "int8"
    int8_mode: str | None  # "dynamic" or "static" for int8 files
    model_kind: str = ""  # the exported model's kind, e.g. "siamese" or "half_twin"
    branch: str = ""  # a half-twin export's one branch: "f" or "g"
    # a half-twin's branch f graph exported with its branch g: g's file name, beside it ("": none)
    document_graph: str = ""
    # a half-twin's towers' input shapes, as export recorded them: (("f", shape), ("g", shape));
    # () in files exported before they were recorded
    tower_input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()


def _json(meta: Mapping[str, str], key: str, source: str) -> Any:
    try:
        return json.loads(meta[key])
    except KeyError:
        raise ValueError(
            f"{source} lacks the metadata key {key!r}; export it again with `siamkit export`"
        ) from None
    except json.JSONDecodeError:
        raise ValueError(f"{source} has a malformed metadata value for {key!r}") from None


def parse_metadata(meta: Mapping[str, str], source: str = "the ONNX model") -> OnnxModelInfo:
    """Turn the ``metadata_props`` of a siamkit export into an :class:`OnnxModelInfo`.

    Raises:
        ValueError: the file was not written by ``siamkit export`` or is from a newer format.
    """
    if meta.get("format") != METADATA_FORMAT:
        raise ValueError(
            f"{source} was not exported by siamkit (no format={METADATA_FORMAT!r} metadata); "
            "export the model with `siamkit export MODEL --format onnx`"
        )
    version = _json(meta, "format_version", source)
    if not isinstance(version, int) or version > METADATA_VERSION:
        raise ValueError(
            f"{source} uses siamkit ONNX format {version!r}; this reader understands "
            f"{METADATA_VERSION} or older — upgrade siamkit"
        )
    threshold = _json(meta, "threshold", source)
    prep = _json(meta, "preprocess", source)
    return OnnxModelInfo(
        siamkit_version=meta.get("siamkit_version", "unknown"),
        embedding_dim=int(_json(meta, "embedding_dim", source)),
        distance=meta.get("distance", ""),
        threshold=None if threshold is None else float(threshold),
        input_shape=tuple(int(s) for s in _json(meta, "input_shape", source)),
        fingerprint=meta.get("fingerprint", ""),
        mean=tuple(float(v) for v in prep["mean"]),
        std=tuple(float(v) for v in prep["std"]),
        precision=meta.get("precision", "fp32"),
        int8_mode=meta.get("int8_mode") or None,
        model_kind=meta.get("model_kind", ""),
        branch=meta.get("branch", ""),
        document_graph=meta.get("document_graph", ""),
        tower_input_shapes=_tower_input_shapes(meta, source),
    )


def _tower_input_shapes(
    meta: Mapping[str, str], source: str
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """The ``tower_input_shapes`` metadata of a half-twin export (``{"f": [C, H, W], "g":
    [...]}``) as ``(("f", shape), ("g", shape))``; ``()`` when the file has none."""
    if "tower_input_shapes" not in meta:
        return ()
    shapes = _json(meta, "tower_input_shapes", source)
    try:
        return tuple((t, tuple(int(s) for s in shapes[t])) for t in ("f", "g") if t in shapes)
    except (TypeError, ValueError):
        raise ValueError(
            f"{source} has a malformed metadata value for 'tower_input_shapes'"
        ) from None


def set_aside_folder(folder: Path) -> Path:
    """Where a replacement of the folder ``folder`` sets it aside while it puts the new one in
    its place: ``.M.old`` beside it. A save over a model folder (``siamkit.save_model``) and a
    text model's export over an earlier one (``export_text_bundle``) set theirs aside so, and a
    replacement killed part-way leaves it there for the next one (a model folder's: siamkit's
    next save or load, ``siamkit.export.bundle.recover_model_folder``) to finish. Its one
    definition, here so that this file, which imports nothing of siamkit, shares it with
    siamkit's modules."""
    return folder.with_name(f".{folder.name}.old")


def _interrupted_save_left(folder: Path, name: str, record: str = "onnx.json") -> Path | None:
    """The folder ``.M.old`` (:func:`set_aside_folder`) beside the model folder ``folder`` (or
    beside where it leads) holding the file ``name`` (a path within it) of an export of the
    model now in ``folder``, as the export's record ``record`` there says (an image export's
    ``onnx.json``; a text export's ``onnx/text_onnx.json``): a save killed after its renames,
    whose move of the kept export into the new folder siamkit's next load finishes
    (``siamkit.export.bundle.recover_model_folder``). An export of another model or threshold
    there (the replaced model's, which that load removes) is none: ``None``."""
    for f in dict.fromkeys((folder.absolute(), folder.resolve())):
        if not f.name:  # "/" has no folder beside it
            continue
        old = set_aside_folder(f)
        if (old / name).is_file() and same_model_export(old / record, f / "siamkit.json"):
            return old
    return None


def same_model_export(record: Path, model_config: Path) -> bool:
    """Whether the export record ``record`` (an ``onnx.json``, a ``text_onnx.json``) names the
    fingerprint and threshold of the model folder's ``model_config`` (its ``siamkit.json``):
    an export a save keeps. Plain json: no torch."""
    try:
        made, model = json.loads(record.read_text()), json.loads(model_config.read_text())
        exported = {made["fingerprint"], *made.get("former_fingerprints", ())}
        return bool(
            model["fingerprint"] in exported and made.get("threshold") == model["threshold"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def resolve_onnx_path(path: str | os.PathLike[str], precision: str = "fp32") -> Path:
    """A ``.onnx`` file as given, or the export of that precision inside a model folder."""
    if precision not in ("fp32", "int8"):
        raise ValueError(f"precision is 'fp32' or 'int8', got {precision!r}")
    p = Path(path)
    if p.is_dir():
        name = ONNX_FILE if precision == "fp32" else INT8_FILE
        if not (p / name).is_file() and (p / "tokenizer" / "tokenizer.json").is_file():
            raise ValueError(_text_export_message(p))
        if not (p / name).is_file() and (old := _interrupted_save_left(p, name)):
            raise FileNotFoundError(
                f"{p} has no {name}: an interrupted save of the model left it in {old}; load "
                f"the model once with siamkit (`siamkit serve {p}`, or "
                "siamkit.export.load_model) to finish that save"
            )
        if not (p / name).is_file():
            flag = " --int8" if precision == "int8" else ""
            raise FileNotFoundError(
                f"{p} has no {name}; create it with `siamkit export {p} --format onnx{flag}`"
            )
        return p / name
    if not p.is_file():
        raise FileNotFoundError(
            f"no ONNX model at {p}; copy the .onnx file `siamkit export MODEL --format onnx` "
            "wrote (model.onnx, with --int8 also model.int8.onnx) there, or give its path"
        )
    return p


def _text_export_message(path: Path) -> str:
    """What the image runtime says of a text model's export (graphs of token ids)."""
    return (
        f"{path} is a text model's export (its graphs take token ids): open its folder with "
        "siamkit.applications.text.onnx.TextOnnxEmbedder, which tokenizes texts for them; "
        "OnnxEmbedder runs image exports"
    )


_NUMPY_FLOATS = ("torch.float16", "torch.float32", "torch.float64")


def _as_float_batch(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
        x = x.detach().cpu()
        # NumPy has no bfloat16 nor float8: .numpy() raised "unsupported ScalarType" of both,
        # where the torch model casts them to float32, so every float NumPy lacks is cast here
        if x.is_floating_point() and str(x.dtype) not in _NUMPY_FLOATS:
            x = x.float()
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"expected an array of images, got {type(x).__name__} ({err})") from None
    if arr.dtype.name.startswith(("bfloat", "float")) and not np.issubdtype(arr.dtype, np.floating):
        # ml_dtypes' bfloat16 and float8s (np.asarray of a JAX array): floats NumPy itself
        # lacks, which were refused as "expected a numeric array"; taken as float16 is
        arr = arr.astype(np.float32)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"expected a numeric array of images, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(
            f"expected floats in [0, 1], got dtype {arr.dtype}; divide uint8 images by 255"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def _pair_sizes_message(first: int, second: int) -> str:
    # siamkit.models.siamese.pair_sizes_message's sentence (this file imports nothing of
    # siamkit); a test holds the two equal
    return (
        f"pair batches differ in size: {first} and {second}; pairs are a[i] with b[i], so give "
        "as many second items as first, or, to compare items one-to-many, embed() both batches "
        "and compare the embeddings (or enroll one side in a gallery and identify the other)"
    )


def _batch_channels_last_problem(shape: tuple[int, ...], want: Sequence[int]) -> str | None:
    # siamkit.data.image_io.batch_channels_last_problem (this file imports nothing of siamkit;
    # a test holds the two equal): the sentence refusing a (N, H, W, C) batch for a model of
    # input want = (C, H, W), None for any other batch
    if len(shape) != 4 or len(want) != 3:
        return None
    channels, width = want[0], want[2]
    if channels not in (1, 3) or shape[1] == channels:
        return None
    if tuple(shape[2:]) == tuple(want[1:]):  # the model's H and W where channels-first puts
        return None  # them: another channel count, not channels last
    if not (shape[-1] == channels or (shape[-1] in (1, 3, 4) and shape[-1] != width)):
        return None
    problem = _channels_last_problem(shape, channels)
    if channels == 1 and shape[-1] != 1:  # converted to grayscale, they are (N, H, W)
        problem = f"{problem[:-1]}; the model takes them as (N, 1, H, W): x[:, None]."
    return problem


def _channels_last_problem(shape: tuple[int, ...], channels: int) -> str:
    # siamkit.data.image_io.channels_last_problem, the one sentence refusing channels-last
    # images (this file imports nothing of siamkit): the runtime said "got 32 channels" of a
    # (N, 32, 32, 3) batch (reviewer s54_FB finding 3); a test holds the two equal
    last, one = shape[-1], len(shape) == 3
    dims, first = ("(H, W, C)", "(C, H, W)") if one else ("(N, H, W, C)", "(N, C, H, W)")
    head = (
        f"Images of shape {shape} have their {last} {'channel' if last == 1 else 'channels'} "
        f"last, {dims}, and siamkit takes "
        f"them first, {first}"
    )
    if channels == 1 and last != 1:
        return (
            f"{head}: convert each image to grayscale, as PIL's image.convert('L') does"
            f"{' (dropping the alpha)' if last == 4 else ''}; grayscale images, "
            f"{'(H, W)' if one else '(N, H, W)'}, need no reorder."
        )
    order = "(2, 0, 1)" if one else "(0, 3, 1, 2)"
    x = "x[..., :3]" if last == 4 else "x"
    tensor, array = f"{x}.permute{order}", f"{x}.transpose{order}"
    steps = ["drop the alpha channel"] if last == 4 else []
    if channels == 3 and last == 1:
        steps.append("repeat their one channel as R, G and B")
        tensor += ".expand(3, -1, -1)" if one else ".expand(-1, 3, -1, -1)"
        array += f".repeat(3, axis={0 if one else 1})"
    steps.append("reorder them")
    return f"{head}: {' and '.join(steps)} with {tensor} (a tensor) or {array} (a NumPy array)."


def pairwise_distance(name: str, a: Any, b: Any) -> np.ndarray:
    """Distances between matching rows of two embedding batches, as siamkit computes them:
    ``(N, D), (N, D) -> (N,)`` float64.

    ``name`` is the model's distance (``OnnxEmbedder.distance_name``): ``euclidean``,
    ``sqeuclidean``, ``manhattan`` (L1) or ``cosine`` (``1 - cos``, in ``[0, 2]``).

    >>> pairwise_distance("euclidean", [[0.0, 0.0]], [[3.0, 4.0]])
    array([5.])
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(
            f"expected two embedding batches of the same shape (N, D), got {x.shape} and {y.shape}"
        )
    if name == "cosine":
        xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
        yn = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-8)
        return np.clip(1.0 - (xn * yn).sum(axis=1), 0.0, 2.0)
    sq = ((x - y) ** 2).sum(axis=1)
    if name == "euclidean":
        return np.sqrt(sq)
    if name == "sqeuclidean":
        return sq
    if name == "manhattan":
        return np.abs(x - y).sum(axis=1)
    raise ValueError(
        f"unknown distance {name!r}: a siamkit export uses cosine, euclidean, manhattan or "
        "sqeuclidean"
    )


class OnnxEmbedder:
    """Embed with an exported siamkit model: the same ``embed`` contract as the torch model.

    Args:
        path: a ``.onnx`` file from ``siamkit export``, or a model folder holding one.
        providers: ONNX Runtime execution providers; default ``["CPUExecutionProvider"]``.
        threads: intra-op threads (``None``: ONNX Runtime's default, one per core).
        precision: which export to pick when ``path`` is a folder: ``"fp32"`` or ``"int8"``.

    Attributes read from the file: ``embedding_dim``, ``distance_name``, ``threshold`` (may be
    ``None``), ``input_shape``, ``fingerprint`` (of the torch model it was exported from),
    ``precision`` and ``info`` (everything, as an :class:`OnnxModelInfo`).

    >>> emb = OnnxEmbedder("out/model", threads=1)  # doctest: +SKIP
    >>> emb.embed(np.zeros((3, 1, 28, 28), np.float32)).shape  # doctest: +SKIP
    (3, 64)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        precision: str = "fp32",
    ) -> None:
        ort = import_onnxruntime()
        self.path = resolve_onnx_path(path, precision)
        self._session = _make_session(ort, self.path, providers, threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        inputs = {i.name for i in self._session.get_inputs()}
        if meta.get("format") != METADATA_FORMAT and "input_ids" in inputs:
            raise ValueError(_text_export_message(self.path))
        self.info = parse_metadata(meta, str(self.path))
        self._input_name = self._session.get_inputs()[0].name
        self.threshold: float | None = self.info.threshold
        # a half-twin's other branch's input shape, read on demand (the first wrong-shaped batch)
        self._other_shape: tuple[int, ...] | None = None
        self._other_read = False

    @property
    def embedding_dim(self) -> int:
        """Size ``D`` of the ``(N, D)`` embeddings :meth:`embed` returns."""
        return self.info.embedding_dim

    @property
    def distance_name(self) -> str:
        """The distance the model compares embeddings with (``"euclidean"``, ``"cosine"``, ...)."""
        return self.info.distance

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One input's shape without the batch dimension, e.g. ``(1, 28, 28)``."""
        return self.info.input_shape

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the torch model this was exported from (``model_fingerprint``)."""
        return self.info.fingerprint

    @property
    def precision(self) -> str:
        """The export's weights: ``"fp32"``, or ``"int8"`` (quantised)."""
        return self.info.precision

    @property
    def providers(self) -> list[str]:
        """The ONNX Runtime execution providers the session runs on, in order of preference."""
        return list(self._session.get_providers())

    def check(self, x: Any) -> np.ndarray:
        """Validate a batch and return it as contiguous float32; raises a clear error otherwise."""
        arr = _as_float_batch(x)
        want = self.input_shape
        got = tuple(int(s) for s in arr.shape[1:])
        if got != want and got == self._other_branch_shape():
            raise ValueError(other_kind_message(self.info.branch or "f", want, got))
        if arr.ndim != len(want) + 1:
            layout = "(N, C, H, W)" if len(want) == 3 else "(N, F)"
            raise ValueError(
                f"expected a batch shaped {layout} = (N, {', '.join(map(str, want))}), got {arr.shape}"
            )
        problem = _batch_channels_last_problem(tuple(arr.shape), want)
        if problem is not None:
            raise ValueError(problem)
        if len(want) == 3 and arr.shape[1] != want[0]:
            mode = "grey ('L')" if want[0] == 1 else "RGB ('RGB')"
            raise ValueError(
                f"the model takes {want[0]}-channel images, got {arr.shape[1]} channels; "
                f"convert the images to {mode} before stacking them (Pillow: img.convert)"
            )
        if tuple(arr.shape[1:]) != want:
            raise ValueError(
                f"the model takes inputs of shape {want}, got {tuple(arr.shape[1:])}; resize them first"
            )
        if not np.isfinite(arr).all():
            raise ValueError("the input contains NaN or infinite values")
        if (
            len(want) == 3
            and arr.size
            and (arr.min() < -_RANGE_SLACK or arr.max() > 1 + _RANGE_SLACK)
        ):
            raise ValueError(
                f"expected images as floats in [0, 1], got values from {float(arr.min()):g} to "
                f"{float(arr.max()):g}; divide 0-255 pixels by 255 (the graph normalises them "
                "itself: do not subtract a mean or divide by a std)"
            )
        return arr

    def _other_branch_shape(self) -> tuple[int, ...] | None:
        """A half-twin branch's other branch's input shape: as this file's metadata records it
        (``tower_input_shapes``), else (an older export) read from that branch's graph beside
        this one (the same export's: f's file names g's, g's is f's name + ``.document``); None
        for other models, or when neither tells it."""
        if not self._other_read:
            other = "g" if (self.info.branch or "f") == "f" else "f"
            recorded = dict(self.info.tower_input_shapes).get(other)
            if self.info.model_kind == "half_twin" and recorded is not None:
                self._other_shape = recorded
            else:
                self._other_shape = _sibling_input_shape(self.path, self.info)
            self._other_read = True
        return self._other_shape

    def embed(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """``(N, C, H, W)`` floats in ``[0, 1]`` (or ``(N, F)`` vectors) -> ``(N, D)`` float32 embeddings.

        Runs in chunks of ``batch_size`` to bound memory.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        arr = self.check(x)
        if len(arr) == 0:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        parts = [
            self._session.run(None, {self._input_name: arr[i : i + batch_size]})[0]
            for i in range(0, len(arr), batch_size)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    __call__ = embed

    def distance(self, a: Any, b: Any) -> np.ndarray:
        """The model's distance between matching rows of two embedding batches:
        ``(N, D), (N, D) -> (N,)``; smaller is more alike (see :func:`pairwise_distance`)."""
        return pairwise_distance(self.distance_name, a, b)

    def verify(self, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
        """Compare two image batches pair by pair, as ``siamkit verify`` does: the distances
        ``(N,)`` and whether each pair is the same, ``distance <= threshold`` within float32
        rounding (:func:`accepts`) ``(N,)`` bool.

        Raises:
            ValueError: the file carries no threshold (calibrate the model with ``siamkit
                calibrate`` and export it again), or it is one branch of a half-twin, whose
                second image goes through its branch g graph (compare with :meth:`distance`).
        """
        if self.info.model_kind == "half_twin":  # before the threshold: calibrate refuses it
            if (self.info.branch or "f") == "f":
                kind, other = "second", self.info.document_graph or "branch g's graph"
            else:
                kind, other = "first", "branch f's graph"
            raise ValueError(
                f"{self.path} is branch {self.info.branch or 'f'} of a half-twin: embed the "
                f"{kind} images with {other} and compare the embeddings with distance()"
            )
        if self.threshold is None:
            raise ValueError(
                f"{self.path} carries no threshold; fit one with `siamkit calibrate MODEL` and "
                "export again with `siamkit export MODEL --format onnx --force`, or compare "
                "distance() with a threshold of your own"
            )
        xa, xb = self.check(a), self.check(b)
        if len(xa) != len(xb):  # before embedding either batch
            raise ValueError(_pair_sizes_message(len(xa), len(xb)))
        d = self.distance(self.embed(xa), self.embed(xb))
        return d, accepts(d, self.threshold)

    def __repr__(self) -> str:
        return (
            f"OnnxEmbedder({str(self.path)!r}, precision={self.precision!r}, "
            f"embedding_dim={self.embedding_dim}, distance={self.distance_name!r})"
        )


#: siamkit.index.decision.ROUNDING and ROOM_SCALE, the float32 rounding within which every
#: siamkit "same" verdict meets its threshold, copied so that this runtime imports neither torch
#: nor the index (tests/export/test_runtime_decision.py checks that the two agree)
ROUNDING = 1e-5
ROOM_SCALE = 16 * 2.0**-23


def room(threshold: float) -> float:
    """:func:`siamkit.decision.room` for a number: ``max(ROUNDING, ROOM_SCALE * |threshold|)``,
    1e-5 up to ``|threshold|`` of 5.24, 16 float32 steps' worth of it beyond (a float32 step
    passes 1e-5 / 16 there; an infinite threshold keeps ROUNDING).

    >>> room(0.3), room(1000.0)
    (1e-05, 0.0019073486328125)
    """
    a = abs(float(threshold))
    return ROUNDING if a == np.inf else max(ROUNDING, ROOM_SCALE * a)


def accepts(distance: Any, threshold: float) -> Any:
    """``distance <= threshold`` within float32 rounding (``threshold + room(threshold)``), as
    :func:`siamkit.index.decision.accepts` decides for ``siamkit verify``, a gallery and the
    service, so that the exported model calls a pair what siamkit calls it.

    Compared in float64, as :func:`siamkit.decision.accepts` compares: a float32 array
    compared with a Python float is compared in float32 (NumPy 2), where the bound
    ``threshold + room`` may round up and accept a distance siamkit verify rejects.

    >>> accepts(np.float32([0.3000004, 0.31]), 0.3).tolist()
    [True, False]
    """
    bound = float(threshold) + room(threshold)
    if isinstance(distance, (bool, int, float)):
        return distance <= bound
    return np.asarray(distance, dtype=np.float64) <= bound


_ROLES = {
    "f": "the first kind of input, what is searched with",
    "g": "the second kind, what is enrolled and compared against",
}


def other_kind_message(branch: str, want: Sequence[int], got: Sequence[int]) -> str:
    """What a half-twin's branch ``branch`` (``"f"`` or ``"g"``, taking inputs of shape ``want``)
    says of a batch at its other branch's input shape ``got``, naming both branches and their
    roles: "resize them first" would feed one kind of input to the other kind's tower.

    >>> other_kind_message("g", (1, 32, 32), (1, 28, 28))[:62]
    'branch g (the second kind, what is enrolled and compared again'
    """
    theirs = "g" if branch == "f" else "f"
    return (
        f"branch {branch} ({_ROLES[branch]}) takes inputs of shape {tuple(want)}, "
        f"got {tuple(got)}, the shape of branch {theirs}'s inputs ({_ROLES[theirs]}): give inputs "
        f"of the {'first' if branch == 'f' else 'second'} kind here"
    )


_DOCUMENT_SUFFIX = ".document.onnx"


def _sibling_input_shape(path: Path, info: OnnxModelInfo) -> tuple[int, ...] | None:
    """The input shape of the other branch's graph of the half-twin export ``path`` belongs to
    (same fingerprint and precision), or None: not a half-twin, or no such graph beside it."""
    if info.model_kind != "half_twin":
        return None
    branch = info.branch or "f"
    if branch == "f":
        if not info.document_graph:
            return None
        sibling = path.parent / info.document_graph
    elif path.name.lower().endswith(_DOCUMENT_SUFFIX):
        sibling = path.with_name(path.name[: -len(_DOCUMENT_SUFFIX)] + ".onnx")
    else:
        return None
    if not sibling.is_file():
        return None
    try:
        session = _make_session(import_onnxruntime(), sibling, None, 1)
        other = parse_metadata(session.get_modelmeta().custom_metadata_map, str(sibling))
    except (ImportError, ValueError, KeyError, TypeError):
        return None
    same = (other.model_kind, other.fingerprint, other.precision) == (
        "half_twin",
        info.fingerprint,
        info.precision,
    )
    if not same or (other.branch or "f") == branch:
        return None
    return other.input_shape


def _make_session(
    ort: Any, path: Path, providers: Sequence[str] | None, threads: int | None
) -> Any:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    chosen = list(providers) if providers is not None else ["CPUExecutionProvider"]
    unknown = sorted(set(chosen) - set(ort.get_available_providers()))
    if unknown:
        raise ValueError(
            f"execution {'provider' if len(unknown) == 1 else 'providers'} {', '.join(unknown)} "
            f"{'is' if len(unknown) == 1 else 'are'} not available in this onnxruntime; "
            f"available: {', '.join(ort.get_available_providers())}"
        )
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=chosen)
    except Exception as err:  # onnxruntime raises its own exception types
        raise ValueError(f"{path} is not a valid ONNX model ({err})") from None
