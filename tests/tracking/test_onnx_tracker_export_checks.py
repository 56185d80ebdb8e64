"""``export_tracker_onnx`` / ``siamkit export-tracker`` as a user meets them: the ONNX backbone
is checked against the torch one before anything is written (it was not checked at all), a
missing onnxruntime is named rather than passed over, and a failed export leaves neither a
traceback nor the folders it made."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.onnx import export_tracker_onnx
from siamkit.cli.main import cli
from siamkit.export.onnx import ExportError, ParityNotCheckedWarning

pytest.importorskip("onnxruntime")

NOT_CHECKED = (
    "not checked against the torch backbone (onnxruntime is not installed: pip install "
    "'siamkit[onnx]' and export again with --force to check it)"
)


@pytest.fixture
def no_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import onnxruntime`` fails, as where the onnx extra is not installed."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)


def test_the_backbone_is_checked_and_its_difference_returned(tmp_path: Path) -> None:
    done = export_tracker_onnx(SiamFCNet("tiny").eval(), tmp_path / "onnx")
    assert done.folder == tmp_path / "onnx"
    assert done.max_abs_diff is not None and 0 <= done.max_abs_diff <= 1e-5


def test_a_graph_unlike_the_torch_backbone_is_refused_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exporter that gets the numbers wrong (here: another network's weights in the graph)
    wrote a tracker that followed something else, without a word."""
    torch.manual_seed(0)
    net, other = SiamFCNet("tiny").eval(), SiamFCNet("tiny").eval()
    real = torch.onnx.export

    def wrong_weights(model, *args, **kwargs):
        return real(other.backbone, *args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", wrong_weights)
    with pytest.raises(ExportError, match=r"differs from the torch one by up to .*nothing was"):
        export_tracker_onnx(net, tmp_path / "edge" / "onnx")
    assert not (tmp_path / "edge").exists()


def test_without_onnxruntime_the_api_warns(tmp_path: Path, no_onnxruntime: None) -> None:
    with pytest.warns(ParityNotCheckedWarning, match=r"not checked .* pip install") as caught:
        done = export_tracker_onnx(SiamFCNet("tiny").eval(), tmp_path / "onnx")
    assert done.max_abs_diff is None and (tmp_path / "onnx" / "backbone.onnx").is_file()
    [warning] = [w for w in caught.list if issubclass(w.category, ParityNotCheckedWarning)]
    assert warning.filename == __file__  # the caller's line


def test_the_command_says_what_it_checked(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["export-tracker", "--out", str(tmp_path / "onnx")])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"ONNX tracker: {tmp_path / 'onnx'}, max |torch - onnx| = ")
    assert res.output.rstrip().endswith("on the backbone's features: it tracks as the torch model")


def test_the_command_names_a_missing_onnxruntime_once(
    tmp_path: Path, no_onnxruntime: None, recwarn: pytest.WarningsRecorder
) -> None:
    res = CliRunner().invoke(cli, ["export-tracker", "--out", str(tmp_path / "onnx")])
    assert res.exit_code == 0, res.output
    assert res.output == f"ONNX tracker: {tmp_path / 'onnx'}, {NOT_CHECKED}\n"
    assert not [w for w in recwarn.list if issubclass(w.category, ParityNotCheckedWarning)]


def test_a_failing_exporter_is_one_sentence_and_leaves_no_new_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A traceback of the exporter's RuntimeError, and new/deep/ left behind empty."""

    def broken(*args, **kwargs):
        Path(args[2]).write_bytes(b"half an onnx file")
        raise RuntimeError("Unsupported: ONNX export of operator foo\nmore lines")

    monkeypatch.setattr(torch.onnx, "export", broken)
    res = CliRunner().invoke(cli, ["export-tracker", "--out", str(tmp_path / "new" / "deep")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.output == (
        "Error: torch.onnx.export could not export the tracker's backbone (RuntimeError: "
        "Unsupported: ONNX export of operator foo); nothing was written: try another opset than "
        "17 (export_tracker_onnx(..., opset=N))\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_out_below_a_file_is_refused_in_one_sentence(tmp_path: Path) -> None:
    """--out notes.txt/tk was mkdir's NotADirectoryError traceback."""
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path / "notes.txt" / "tk"
    res = CliRunner().invoke(cli, ["export-tracker", "--out", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert res.output.rstrip().endswith(
        f"Error: --out {out} cannot be made because {tmp_path / 'notes.txt'} is a file, not a "
        "folder; give a folder path"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"
