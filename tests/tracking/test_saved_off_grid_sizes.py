"""A tracker saved, exported or checkpointed with an instance_size off the backbones' grid (made
before such sizes were refused, e.g. 250 with exemplar 127, which trained and tracked) is still
loaded, tracked and resumed: its size is read as the grid's, with one warning line."""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from siamkit.applications.tracking.model import SiamFCNet, save_tracker
from siamkit.applications.tracking.params import OffGridSizeWarning
from siamkit.applications.tracking.tracker import SiamFCTracker
from siamkit.cli.main import cli
from siamkit.data.synthetic_tracking import linear_square_sequence
from siamkit.export.bundle import load_model

SAID = (
    "has instance_size 250, off the backbones' 8-pixel grid from exemplar_size 127, so it is "
    "read as 247, the same 16 response cells centred on the search crop (the weights do not "
    "depend on it); set its instance_size to 247 to silence this"
)


def _set_instance_size(file: Path, keys: tuple[str, ...], size: int) -> None:
    """Write ``size`` where an older siamkit wrote the tracker's instance_size."""
    doc = json.loads(file.read_text())
    section = doc
    for key in keys:
        section = section[key]
    section["instance_size"] = size
    file.write_text(json.dumps(doc, indent=2))


def _saved_at_250(folder: Path) -> SiamFCNet:
    torch.manual_seed(0)
    net = SiamFCNet("tiny").eval()
    save_tracker(net, folder)
    _set_instance_size(folder / "siamkit.json", ("model", "tracker"), 250)
    return net


def test_a_saved_tracker_of_an_off_grid_size_loads_and_tracks(tmp_path: Path) -> None:
    """load_model refused it ('cannot be rebuilt: ... got 250: try 247'), so siamkit track,
    evaluate-tracking and export-tracker could not use a model that trained fine; and no option
    of theirs set the size."""
    net = _saved_at_250(tmp_path / "m")
    with pytest.warns(OffGridSizeWarning) as said:
        loaded = load_model(tmp_path / "m")
    assert [str(w.message) for w in said] == [f"the saved tracker's siamkit.json {SAID}"]
    assert isinstance(loaded, SiamFCNet) and loaded.params.instance_size == 247
    assert loaded.params == replace(net.params, instance_size=247)
    # the same cells as the network computes from the 250-pixel crop it was made for
    with torch.no_grad():
        z = torch.rand(1, 3, 127, 127)
        cells = {n: loaded(z, torch.rand(1, 3, n, n)).shape[-1] for n in (247, 250)}
    assert cells == {247: 16, 250: 16}
    seq = linear_square_sequence(n_frames=3).to_sequence()
    boxes = [r.box for r in SiamFCTracker(loaded).track(seq.frames, seq.boxes[0])]
    assert len(boxes) == 3 and np.isfinite(np.stack(boxes)).all()


def test_siamkit_track_says_the_size_in_one_warning_line(tmp_path: Path) -> None:
    _saved_at_250(tmp_path / "m")
    video = tmp_path / "clip.avi"
    import cv2

    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for frame in linear_square_sequence(n_frames=3, frame_size=(160, 120)).to_sequence().frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    result = CliRunner().invoke(
        cli,
        ["track", str(video), "--box", "50,40,30,30", "--model", str(tmp_path / "m"),
         "--out", str(tmp_path / "o.avi"), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "instance_size 250" in line]
    assert warned == [f"warning: the saved tracker's siamkit.json {SAID}"]


def test_an_export_of_an_off_grid_size_loads(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from siamkit.applications.tracking.onnx import OnnxSiamFC, export_tracker_onnx

    export_tracker_onnx(SiamFCNet("tiny").eval(), tmp_path / "onnx")
    _set_instance_size(tmp_path / "onnx" / "tracker.json", ("params",), 250)
    with pytest.warns(OffGridSizeWarning) as said:
        onnx_net = OnnxSiamFC(tmp_path / "onnx")
    assert [str(w.message) for w in said] == [f"{tmp_path / 'onnx' / 'tracker.json'} {SAID}"]
    assert onnx_net.params.instance_size == 247


RUN: dict = {
    "model": {"backbone": "tiny"},
    "data": {"frame_size": [160, 120], "n_frames": 20},
    "train": {"steps": 2, "batch_size": 2, "threads": 1, "checkpoint_every": 1},
    "eval": {"n_sequences": 1, "n_frames": 5, "frame_size": [160, 120]},
}


def test_a_run_checkpointed_at_an_off_grid_size_resumes(tmp_path: Path) -> None:
    """Its own size was refused ('try 247') and 247 was refused as another config than the
    checkpoint's ('--set tracker.instance_size=250'): the run could not be resumed at all."""
    from siamkit.training.checkpoint import load_checkpoint, save_checkpoint
    from siamkit.training.tasks import TaskOptions, get_task

    run = get_task("siamfc")
    cut = {**RUN, "train": {**RUN["train"], "max_minutes": 1e-9}}  # stops after step 1 of 2
    at_250 = {**RUN, "tracker": {"instance_size": 250}}
    with pytest.raises(ValueError, match="got 250 with exemplar_size 127: try instance_size 247"):
        run(at_250, tmp_path / "new", TaskOptions(progress=False))  # a new run is refused
    resume = TaskOptions(progress=False, resume=True)
    first = tmp_path / "first"
    run({**cut, "tracker": {"instance_size": 247}}, first, TaskOptions(progress=False))
    state = load_checkpoint(first / "checkpoint.pt")
    state["config"]["tracker"]["instance_size"] = 250  # as an older siamkit recorded it
    save_checkpoint(state, first / "checkpoint.pt")
    for size in (250, 247):  # the config it ran with, or the size it is read as
        out = shutil.copytree(first, tmp_path / f"run{size}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            summary = run({**RUN, "tracker": {"instance_size": size}}, out, resume)
        said = [str(w.message) for w in caught if w.category is OffGridSizeWarning]
        assert said == ([f"the resumed run's config {SAID}"] if size == 250 else [])
        assert summary.metrics["train.steps"] == 2
        assert load_model(out / "model").params.instance_size == 247  # type: ignore[union-attr]
    with pytest.raises(
        ValueError, match=r"\(the checkpoint's values: --set tracker.instance_size=247\)"
    ):
        run({**RUN, "tracker": {"instance_size": 255}}, tmp_path / "run250", resume)


@pytest.mark.parametrize("backbone", ["tiny", "alexnet"])
def test_the_warning_says_the_cells_the_network_gave_and_gives(backbone: str) -> None:
    """A saved gap under 8 pixels (130 with exemplar 127, which an older siamkit trained with
    1x1 labels) is read as 135, one stride up, not down: the warning said 'the same 2 response
    cells' where 130 gave 1. The counts it says are the network's own, at both sizes."""
    from siamkit.applications.tracking.params import read_saved_sizes

    torch.manual_seed(0)
    net = SiamFCNet(backbone).eval()

    def cells(exemplar: int, instance: int) -> int:
        with torch.no_grad():
            z, x = torch.rand(1, 3, exemplar, exemplar), torch.rand(1, 3, instance, instance)
            return int(net(z, x).shape[-1])

    for exemplar, instance, read_as in ((127, 130, 135), (127, 250, 247), (128, 143, 136)):
        with pytest.warns(OffGridSizeWarning) as said:
            tracker = read_saved_sizes({"exemplar_size": exemplar, "instance_size": instance}, "M")
        assert tracker["instance_size"] == read_as
        before, after = cells(exemplar, instance), cells(exemplar, read_as)
        if before == after:
            read = f"the same {after} response cells"
        else:
            way = "widened" if after > before else "narrowed"
            s = "s" if before > 1 else ""
            read = f"{way} to {after} response cells centred on the search crop from the {before}"
            read += f" cell{s} {instance} gave"
        message = str(said[0].message)
        assert f"so it is read as {read_as}, {read}" in message, message
        assert ("no fewer than 2" in message) == (instance - exemplar < 8)
    assert (cells(127, 130), cells(127, 135), cells(128, 143)) == (1, 2, 3)  # the cases' point
