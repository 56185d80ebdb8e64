"""SiamFC with the backbone in ONNX Runtime: tracking without torch.

``export_tracker_onnx(net, folder)`` writes ``backbone.onnx`` (dynamic batch and size) and
``tracker.json`` (the response's gain and bias, the tracking hyper-parameters, the backbone's
SHA-256, and the export it replaced), the backbone checked against the torch one first where
onnxruntime is installed. ``OnnxSiamFC`` loads them with only ``onnxruntime`` and NumPy and
plugs into :class:`SiamFCTracker`.

>>> export_tracker_onnx(net, "tracker-onnx")  # doctest: +SKIP
>>> tracker = SiamFCTracker(OnnxSiamFC("tracker-onnx"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siamkit.applications.tracking.params import TrackerParams, read_saved_sizes
from siamkit.clauses import listed
from siamkit.export.parity import PARITY_ATOL, warn_unchecked

if TYPE_CHECKING:
    from siamkit.applications.tracking.model import SiamFCNet

ONNX_FILE, META_FILE = "backbone.onnx", "tracker.json"


@dataclass(frozen=True)
class TrackerExport:
    """The folder :func:`export_tracker_onnx` wrote (``backbone.onnx`` + ``tracker.json``) and
    the largest difference between the ONNX and torch backbones' features on check crops
    (``None``: onnxruntime is not installed, so it was not checked)."""

    folder: Path
    max_abs_diff: float | None


def export_tracker_onnx(
    net: SiamFCNet,
    folder: str | os.PathLike[str],
    opset: int = 17,
    force: bool = False,
    atol: float = PARITY_ATOL,
) -> TrackerExport:
    """Export ``net``'s backbone to ``folder/backbone.onnx`` and its head to ``folder/tracker.json``.

    The backbone is checked against the torch one with ONNX Runtime (where installed) on
    random and blank crops of the exemplar and search sizes; a feature difference over ``atol``
    (times their largest magnitude, where that is over 1) raises
    :class:`~siamkit.export.ExportError` and writes nothing. Without onnxruntime the files are
    written unchecked with a :class:`~siamkit.export.onnx.ParityNotCheckedWarning`.

    Each file is written beside its name and renamed into place when complete, so a failed
    export leaves the folder as it was (and removes the folders it made). ``tracker.json``
    records the SHA-256 of the backbone it goes with and is renamed first; an error or Ctrl-C
    before the backbone is in puts the earlier ``tracker.json`` back. It also records the
    earlier export's head and backbone SHA-256 (``"previous"``), so the pair a kill -9 between
    the two renames leaves (the new ``tracker.json``, the earlier backbone) loads in
    :class:`OnnxSiamFC` as the earlier export. Existing files are replaced only with ``force``.
    """
    from dataclasses import asdict

    import torch

    from siamkit.atomic import (
        atomic_path,
        atomic_write,
        missing_folders,
        remove_empty_folders,
        sha256_file,
    )

    dest = Path(folder)
    existing = [str(dest / f) for f in (ONNX_FILE, META_FILE) if (dest / f).exists()]
    if existing and not force:
        raise FileExistsError(
            f"{listed(existing)} already {'exists' if len(existing) == 1 else 'exist'}; "
            "pass --force to replace, or --out elsewhere"
        )
    made = missing_folders(dest)
    dest.mkdir(parents=True, exist_ok=True)
    backbone = net.backbone.eval()
    dummy = torch.rand(1, 3, 255, 255)
    meta: dict[str, Any] = {
        "gain": float(net.gain.detach()),
        "bias": float(net.bias.detach()),
        "total_stride": net.total_stride,
        "params": asdict(net.params),
    }
    onnx_path, meta_path = dest / ONNX_FILE, dest / META_FILE
    earlier = meta_path.read_bytes() if meta_path.is_file() else None
    previous = _earlier_export(onnx_path, earlier)
    new_backbone: tuple[int, int] | None = None  # the exported file, once it is complete
    try:
        with atomic_path(onnx_path, suffix=".onnx") as onnx_tmp:  # renamed when the block ends
            _export_backbone(backbone, dummy, onnx_tmp, opset)
            diff = _backbone_parity(backbone, onnx_tmp, net.params, atol)
            meta["backbone_sha256"] = sha256_file(onnx_tmp)
            if previous is not None and previous["backbone_sha256"] != meta["backbone_sha256"]:
                meta["previous"] = previous  # what loads until the new backbone is in
            new_backbone = _file_id(onnx_tmp)
            atomic_write(meta_path, json.dumps(meta, indent=2))
    except BaseException:
        if new_backbone is not None and _file_id(onnx_path) != new_backbone:
            # the new tracker.json may be in, the backbone is still the earlier one
            if earlier is None:
                meta_path.unlink(missing_ok=True)
            else:
                atomic_write(meta_path, earlier)
        remove_empty_folders(made)  # the folders it made, still empty: as it was
        raise
    if diff is None:
        warn_unchecked([onnx_path], "the torch backbone")
    return TrackerExport(dest, diff)


def _export_backbone(backbone: Any, dummy: Any, path: Path, opset: int) -> None:
    """``torch.onnx.export`` of ``backbone`` to ``path`` with a dynamic batch and crop size;
    its failure as an :class:`~siamkit.export.ExportError` naming the cause in one sentence."""
    import torch

    from siamkit.export.onnx import ExportError
    from siamkit.export.parity import exporter_failure_reason

    try:
        torch.onnx.export(
            backbone,
            (dummy,),
            str(path),
            input_names=["crops"],
            output_names=["features"],
            dynamic_axes={
                "crops": {0: "n", 2: "h", 3: "w"},
                "features": {0: "n", 2: "fh", 3: "fw"},
            },
            opset_version=opset,
            dynamo=False,
        )
    except Exception as err:  # the exporter raises many unrelated types
        raise ExportError(
            "torch.onnx.export could not export the tracker's backbone "
            f"({exporter_failure_reason(err)}); nothing was "
            f"written: try another opset than {opset} (export_tracker_onnx(..., opset=N))"
        ) from err


def _backbone_parity(backbone: Any, path: Path, params: TrackerParams, atol: float) -> float | None:
    """The largest feature difference between the ONNX graph at ``path`` and the torch
    ``backbone`` on random and blank crops of the exemplar and search sizes (inf where ONNX
    gives NaN or inf); ``None`` without onnxruntime. Over ``atol`` (times the features'
    largest magnitude, where over 1) raises :class:`~siamkit.export.ExportError`."""
    import torch

    from siamkit.export.onnx import ExportError
    from siamkit.export.parity import max_abs_diff, parity_session

    session = parity_session(path)
    if session is None:
        return None
    worst, scale = 0.0, 1.0
    for size in (params.exemplar_size, params.instance_size):
        crops = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
        crops = torch.cat([crops, torch.zeros(1, 3, size, size)])
        with torch.no_grad():
            want = backbone(crops).numpy()
        worst = max(worst, max_abs_diff(session.run(None, {"crops": crops.numpy()})[0], want))
        if worst == float("inf"):
            break
        scale = max(scale, float(np.abs(want).max()))
    if worst > atol * scale:
        raise ExportError(
            f"the tracker's ONNX backbone differs from the torch one by up to {worst:.2e} on "
            f"crops of {params.exemplar_size} and {params.instance_size} pixels (allowed "
            f"{atol * scale:.0e}); nothing was written: try another opset (opset=N)"
        )
    return worst


def _head_for(meta: dict[str, Any], backbone_sha256: str) -> dict[str, Any] | None:
    """The head in ``tracker.json``'s ``meta`` that goes with the backbone of that SHA-256: the
    exported one (or any, in an export from before siamkit recorded the SHA-256), or the earlier
    export's (``"previous"``: a replacement killed between its two renames); None when neither
    is (files of two exports put together)."""
    if meta.get("backbone_sha256") in (None, backbone_sha256):
        return {k: v for k, v in meta.items() if k != "previous"}
    previous = meta.get("previous")
    if isinstance(previous, dict) and previous.get("backbone_sha256") == backbone_sha256:
        return previous
    return None


def _earlier_export(onnx_path: Path, earlier: bytes | None) -> dict[str, Any] | None:
    """The head of the export already in the folder (``earlier``: its ``tracker.json``), with
    its backbone's SHA-256; None when there is no loadable pair."""
    from siamkit.atomic import sha256_file

    if earlier is None or not onnx_path.is_file():
        return None
    try:
        meta = json.loads(earlier)
    except ValueError:
        return None
    if not isinstance(meta, dict):
        return None
    sha = sha256_file(onnx_path)
    head = _head_for(meta, sha)
    if head is None or not {"gain", "bias", "total_stride", "params"} <= head.keys():
        return None
    return {**head, "backbone_sha256": sha}


def _file_id(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of ``path``, which a rename keeps; None when it is missing."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def correlate_numpy(kernel: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """``(1, C, h, w)`` exemplar against ``(S, C, H, W)`` maps -> ``(S, H-h+1, W-w+1)``."""
    h, w = kernel.shape[-2:]
    windows = np.lib.stride_tricks.sliding_window_view(
        feats, (h, w), axis=(2, 3)
    )  # (S, C, H', W', h, w)
    return np.einsum("schwij,cij->shw", windows, kernel[0], optimize=True)  # type: ignore[no-any-return]


class OnnxSiamFC:
    """The tracker-facing side of :class:`SiamFCNet` (``embed_numpy``, ``response_numpy``) on ONNX Runtime."""

    def __init__(self, folder: str | os.PathLike[str], threads: int = 1) -> None:
        from siamkit.export.runtime import import_onnxruntime

        ort = import_onnxruntime()  # an ImportError that says how to install it

        d = Path(folder)
        if not (d / ONNX_FILE).is_file() or not (d / META_FILE).is_file():
            raise FileNotFoundError(
                f"{d} has no {ONNX_FILE} and {META_FILE}; write them with "
                f"`siamkit export-tracker MODEL --out {d}` (leave out MODEL for the built-in tracker)"
            )
        backbone = (d / ONNX_FILE).read_bytes()  # read once: the bytes checked are those loaded
        written = json.loads((d / META_FILE).read_text())
        if not isinstance(written, dict):
            raise ValueError(
                f"{d / META_FILE} is not one written by siamkit export-tracker; export again "
                f"with `siamkit export-tracker MODEL --out {d} --force`"
            )
        # the earlier export's head when a replacement was killed before its backbone went in
        meta = _head_for(written, hashlib.sha256(backbone).hexdigest())
        if meta is None:
            raise ValueError(
                f"{d / ONNX_FILE} is not the backbone {d / META_FILE} was exported with (files "
                "of two exports, or one stopped between its two files); export again with "
                f"`siamkit export-tracker MODEL --out {d} --force`"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(backbone, opts, providers=["CPUExecutionProvider"])
        self.gain, self.bias = float(meta["gain"]), float(meta["bias"])
        self.total_stride = int(meta["total_stride"])
        # an export made before off-grid sizes were refused still tracks (read_saved_sizes)
        self.params = TrackerParams.from_dict(read_saved_sizes(meta["params"], str(d / META_FILE)))

    def embed_numpy(self, crops: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 in [0, 1] -> ``(N, C, H', W')``."""
        return self.session.run(None, {"crops": crops.astype(np.float32)})[0]  # type: ignore[no-any-return]

    def response_numpy(self, kernel: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """Response logits ``(S, n, n)``."""
        return correlate_numpy(kernel, feats) * self.gain + self.bias
