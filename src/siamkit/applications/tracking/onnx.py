"""SiamFC with the backbone in ONNX Runtime: tracking without torch.

``export_tracker_onnx(net, folder)`` writes ``backbone.onnx`` (dynamic batch and size) and
``tracker.json`` (the response's gain and bias, the tracking hyper-parameters). ``OnnxSiamFC``
loads them with only ``onnxruntime`` and NumPy and plugs into :class:`SiamFCTracker`.

>>> export_tracker_onnx(net, "tracker-onnx")  # doctest: +SKIP
>>> tracker = SiamFCTracker(OnnxSiamFC("tracker-onnx"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siamkit.applications.tracking.params import TrackerParams

if TYPE_CHECKING:
    from siamkit.applications.tracking.model import SiamFCNet

ONNX_FILE, META_FILE = "backbone.onnx", "tracker.json"


def export_tracker_onnx(
    net: SiamFCNet, folder: str | os.PathLike[str], opset: int = 17, force: bool = False
) -> Path:
    """Export ``net``'s backbone to ``folder/backbone.onnx`` and its head to ``folder/tracker.json``.

    Both files are written beside their names and renamed only when both are complete, so a
    failed export leaves the folder as it was. Existing files are replaced only with ``force``.
    """
    from dataclasses import asdict

    import torch

    from siamkit.atomic import atomic_path

    dest = Path(folder)
    existing = [str(dest / f) for f in (ONNX_FILE, META_FILE) if (dest / f).exists()]
    if existing and not force:
        raise FileExistsError(
            f"{' and '.join(existing)} already {'exists' if len(existing) == 1 else 'exist'}; "
            "pass --force to replace, or --out elsewhere"
        )
    dest.mkdir(parents=True, exist_ok=True)
    backbone = net.backbone.eval()
    dummy = torch.rand(1, 3, 255, 255)
    meta = {
        "gain": float(net.gain.detach()),
        "bias": float(net.bias.detach()),
        "total_stride": net.total_stride,
        "params": asdict(net.params),
    }
    with (
        atomic_path(dest / ONNX_FILE, suffix=".onnx") as onnx_tmp,
        atomic_path(dest / META_FILE, suffix=".json") as meta_tmp,
    ):
        torch.onnx.export(
            backbone,
            (dummy,),
            str(onnx_tmp),
            input_names=["crops"],
            output_names=["features"],
            dynamic_axes={
                "crops": {0: "n", 2: "h", 3: "w"},
                "features": {0: "n", 2: "fh", 3: "fw"},
            },
            opset_version=opset,
            dynamo=False,
        )
        meta_tmp.write_text(json.dumps(meta, indent=2))
    return dest


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
        import onnxruntime as ort

        d = Path(folder)
        if not (d / ONNX_FILE).is_file() or not (d / META_FILE).is_file():
            raise FileNotFoundError(
                f"{d} has no {ONNX_FILE} and {META_FILE}; write them with "
                f"`siamkit export-tracker MODEL --out {d}` (leave out MODEL for the built-in tracker)"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(d / ONNX_FILE), opts, providers=["CPUExecutionProvider"]
        )
        meta: dict[str, Any] = json.loads((d / META_FILE).read_text())
        self.gain, self.bias = float(meta["gain"]), float(meta["bias"])
        self.total_stride = int(meta["total_stride"])
        self.params = TrackerParams.from_dict(meta["params"])

    def embed_numpy(self, crops: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 in [0, 1] -> ``(N, C, H', W')``."""
        return self.session.run(None, {"crops": crops.astype(np.float32)})[0]  # type: ignore[no-any-return]

    def response_numpy(self, kernel: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """Response logits ``(S, n, n)``."""
        return correlate_numpy(kernel, feats) * self.gain + self.bias
