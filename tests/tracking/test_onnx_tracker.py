"""The ONNX Runtime backbone + NumPy correlation track like the torch network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from siamkit.applications.tracking.model import SiamFCNet, cross_correlation, save_tracker
from siamkit.applications.tracking.onnx import OnnxSiamFC, correlate_numpy, export_tracker_onnx
from siamkit.applications.tracking.tracker import SiamFCTracker
from siamkit.data.synthetic_tracking import linear_square_sequence
from siamkit.export.onnx import ExportError


def test_numpy_correlation_matches_torch() -> None:
    rng = np.random.default_rng(0)
    k = rng.normal(size=(1, 4, 6, 6)).astype(np.float32)
    x = rng.normal(size=(3, 4, 22, 22)).astype(np.float32)
    want = cross_correlation(torch.from_numpy(k), torch.from_numpy(x))[:, 0].numpy()
    np.testing.assert_allclose(correlate_numpy(k, x), want, rtol=1e-4, atol=1e-4)


def test_onnx_tracker_gives_the_torch_boxes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    seq = linear_square_sequence(n_frames=6).to_sequence()
    net = SiamFCNet("tiny").train()
    with torch.no_grad():  # batch-norm statistics from real frames, so responses are not flat
        for _ in range(5):
            net.embed(torch.from_numpy(np.stack(seq.frames).transpose(0, 3, 1, 2) / 255.0).float())
        net.gain.fill_(0.05)
    net.eval()
    export_tracker_onnx(net, tmp_path / "onnx")
    onnx_net = OnnxSiamFC(tmp_path / "onnx")
    crops = np.random.default_rng(1).random((2, 3, 255, 255), dtype=np.float32)
    np.testing.assert_allclose(
        onnx_net.embed_numpy(crops), net.embed_numpy(crops).numpy(), rtol=1e-3, atol=1e-4
    )
    a = np.stack([r.box for r in SiamFCTracker(net).track(seq.frames, seq.boxes[0])])  # type: ignore[arg-type]
    b = np.stack([r.box for r in SiamFCTracker(onnx_net).track(seq.frames, seq.boxes[0])])  # type: ignore[arg-type]
    # The features agree to 1e-4 (above); the boxes follow the response's arg-max, which on this
    # untrained network's nearly flat response can move by a cell or two of the upsampled map
    # (0.63 px each at this scale) when float rounding differs, e.g. with another thread count,
    # and a frame's shift carries into the next search region: a fresh CI machine saw one
    # coordinate of 24 move 2.8 px. The boxes must agree on average to well under a pixel-cell
    # pair and never by more than 5 px (a wrong backbone or correlation is caught above; a wrong
    # scale or window moves the 40-px square by far more).
    np.testing.assert_allclose(a, b, atol=5.0)
    assert np.abs(a - b).mean() < 1.0
    assert np.abs(np.diff(a[:, 0])).max() > 0  # it moved: the comparison is not of two still boxes
    assert onnx_net.params == net.params


def test_a_failed_export_leaves_the_folder_as_it_was(tmp_path: Path, monkeypatch) -> None:
    net = SiamFCNet("tiny").eval()
    out = tmp_path / "onnx"
    export_tracker_onnx(net, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        Path(args[2]).write_bytes(b"half an onnx file")
        raise RuntimeError("exporter failed")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(ExportError, match=r"\(RuntimeError: exporter failed\); nothing was"):
        export_tracker_onnx(net, out, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary left either


def _two_nets() -> tuple[SiamFCNet, SiamFCNet]:
    """Two tiny trackers whose backbones and heads differ."""
    torch.manual_seed(0)
    a, b = SiamFCNet("tiny").eval(), SiamFCNet("tiny").eval()
    with torch.no_grad():
        b.gain.fill_(float(a.gain) + 0.5)
    return a, b


def test_an_interrupted_replacement_leaves_the_earlier_pair(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C after the first of the two files went in (while the second is flushed) puts the
    first back: the folder holds the earlier export, not one file of each."""
    import siamkit.atomic

    first, second = _two_nets()
    out = tmp_path / "onnx"
    export_tracker_onnx(first, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = siamkit.atomic._fsync_file

    def interrupted(path: Path) -> None:
        if str(path).endswith(".onnx"):
            raise KeyboardInterrupt
        real(path)

    monkeypatch.setattr(siamkit.atomic, "_fsync_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_tracker_onnx(second, out, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary left either


_KILLED_EXPORT = """
import os, sys
import siamkit
from siamkit.applications.tracking.onnx import export_tracker_onnx

real = os.replace


def replace(src, dst):
    if str(dst).endswith("backbone.onnx"):  # tracker.json is in, the backbone is next
        os._exit(137)  # as kill -9: no handler or finally runs
    real(src, dst)


os.replace = replace
export_tracker_onnx(siamkit.load_model(sys.argv[1]), sys.argv[2], force=True)
"""


def test_a_replacement_killed_between_its_renames_keeps_the_earlier_export(
    tmp_path: Path,
) -> None:
    """An export --force killed after the new tracker.json went in, before the new backbone.onnx
    did, leaves the earlier export usable (it was refused as a mismatched pair); the next
    export replaces it."""
    first, second = _two_nets()
    save_tracker(second, tmp_path / "second")
    out = tmp_path / "onnx"
    export_tracker_onnx(first, out)
    earlier_backbone = (out / "backbone.onnx").read_bytes()
    child = [sys.executable, "-c", _KILLED_EXPORT, str(tmp_path / "second"), str(out)]
    assert subprocess.run(child, capture_output=True).returncode == 137
    assert (out / "backbone.onnx").read_bytes() == earlier_backbone  # killed before it went in
    assert f'"gain": {second.gain.item()}' in (out / "tracker.json").read_text()  # this did
    crops = np.random.default_rng(0).random((1, 3, 255, 255), dtype=np.float32)
    kept = OnnxSiamFC(out)
    assert kept.gain == pytest.approx(first.gain.item())  # the earlier head with its backbone
    np.testing.assert_allclose(
        kept.embed_numpy(crops), first.embed_numpy(crops).numpy(), rtol=1e-3, atol=1e-4
    )
    export_tracker_onnx(second, out, force=True)
    assert OnnxSiamFC(out).gain == pytest.approx(second.gain.item())
    assert sorted(p.name for p in out.iterdir()) == ["backbone.onnx", "tracker.json"]


def test_a_pair_of_two_exports_is_refused(tmp_path: Path) -> None:
    """tracker.json of one export beside backbone.onnx of another (neither its own backbone
    nor the one it replaced) is refused in one sentence instead of tracking with another
    network's head."""
    first, second = _two_nets()
    export_tracker_onnx(first, tmp_path / "old")
    export_tracker_onnx(second, tmp_path / "new")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "backbone.onnx").write_bytes((tmp_path / "old" / "backbone.onnx").read_bytes())
    (mixed / "tracker.json").write_bytes((tmp_path / "new" / "tracker.json").read_bytes())
    with pytest.raises(ValueError, match=r"not the backbone .* export again .* --force") as err:
        OnnxSiamFC(mixed)
    assert "\n" not in str(err.value)
    (mixed / "tracker.json").write_text("[]")  # JSON, but not an object of a head
    with pytest.raises(ValueError, match=r"is not one written by siamkit export-tracker; export"):
        OnnxSiamFC(mixed)
    OnnxSiamFC(tmp_path / "new")  # a whole pair loads
