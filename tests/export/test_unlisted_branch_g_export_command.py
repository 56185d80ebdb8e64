"""The "Kept ..." line of an ONNX export no record lists (written with ``--out`` into a
sub-folder) names the command that writes it again only where that command is true for the model
in the folder: a half-twin's ``--branch g`` graph alone gets ``--branch g`` (without it the
command wrote both branches, f at that path), and another kind of model, for which ``--branch g``
is refused, gets the generic command (s64 c2 item 3)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.export_cmd import export
from siamkit.export.bundle import remove_stale_exports, save_model
from siamkit.export.onnx import export_onnx
from siamkit.export.runtime import OnnxEmbedder
from siamkit.export.threshold_file import write_threshold
from siamkit.models import HalfTwinNetwork, Preprocess, SiameseNetwork

pytest.importorskip("onnx", reason="the onnx extra is not installed")

KEPT = (
    "which no onnx.json lists: an ONNX export of another model or threshold, which would no "
    "longer match this one"
)


def _half_twin() -> HalfTwinNetwork:
    torch.manual_seed(0)
    f = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    g = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    pre_f, pre_g = Preprocess(input_shape=(1, 28, 28)), Preprocess(input_shape=(1, 28, 28))
    net = HalfTwinNetwork(f, g, embedding_dim=16, preprocess_f=pre_f, preprocess_g=pre_g)
    net.threshold = 0.8
    return net.eval()


def test_a_branch_g_export_alone_is_named_with_branch_g_and_that_command_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = save_model(_half_twin(), tmp_path / "model")
    graph = dest / "edge" / "g.onnx"
    export_onnx(dest, out_path=graph, branch="g")
    write_threshold(dest, 0.6)
    capsys.readouterr()
    assert remove_stale_exports(dest) == []
    command = f"siamkit export {dest} --out {graph} --force --branch g"
    assert capsys.readouterr().err.strip() == (
        f"Kept {graph}, {KEPT} (export it again with `{command}`, or delete it)"
    )
    res = CliRunner().invoke(export, shlex.split(command)[2:], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in graph.parent.iterdir()) == ["g.onnx"]  # g alone, again
    written = OnnxEmbedder(graph)
    assert written.threshold == 0.6
    with torch.inference_mode():
        x = torch.rand(3, 1, 28, 28)
        want = _half_twin().embed_g(x).numpy()
    assert abs(written.embed(x.numpy()) - want).max() < 1e-4  # branch g's graph, not f's


def test_a_branch_g_export_in_a_folder_another_kind_replaced_gets_the_generic_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = save_model(_half_twin(), tmp_path / "model")
    graph = dest / "edge" / "g.onnx"
    export_onnx(dest, out_path=graph, branch="g")
    torch.manual_seed(1)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    net = SiameseNetwork(enc, 16, preprocess=Preprocess((0.5,), (0.25,), (1, 28, 28))).eval()
    capsys.readouterr()
    save_model(net, dest)
    assert capsys.readouterr().err.strip() == (
        f"Kept {graph}, {KEPT} (`siamkit export {dest} --out FILE --force` writes an export of "
        "this model, or delete it)"
    )


def test_calibrates_command_for_a_recorded_branch_g_export_writes_it_again(
    tmp_path: Path,
) -> None:
    """A branch g export alone in the model folder (onnx.json lists it): the command
    calibrate's "Removed ..." line names for it (export_commands) keeps --branch g, and writes
    g's graph again where it was, with the new threshold (it had no test: s63_m3, s64 c2 item
    5). Written by export_onnx(MODEL, branch="g") at model.onnx, it needs its --out: `siamkit
    export MODEL --branch g` writes MODEL/model.g.onnx, and the line named that."""
    from siamkit.export.bundle import export_commands

    dest = save_model(_half_twin(), tmp_path / "model")
    export_onnx(dest, branch="g")
    [(record, command, files)] = export_commands(dest)
    assert (record, command, files) == (
        dest / "onnx.json",
        f"siamkit export {dest} --out {dest / 'model.onnx'} --branch g",
        [dest / "model.onnx"],
    )
    write_threshold(dest, 0.6)
    assert remove_stale_exports(dest) == [dest / "model.onnx", dest / "onnx.json"]
    res = CliRunner().invoke(export, shlex.split(command)[2:], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    written = OnnxEmbedder(dest / "model.onnx")
    assert written.threshold == 0.6
    x = torch.rand(3, 1, 28, 28)
    with torch.inference_mode():
        want = _half_twin().embed_g(x).numpy()
    assert abs(written.embed(x.numpy()) - want).max() < 1e-4


def test_calibrates_command_for_the_clis_branch_g_export_gives_no_out(tmp_path: Path) -> None:
    """`siamkit export MODEL --branch g` writes MODEL/model.g.onnx: the command that writes it
    again is that one, with no --out."""
    from siamkit.export.bundle import export_commands

    dest = save_model(_half_twin(), tmp_path / "model")
    res = CliRunner().invoke(export, [str(dest), "--branch", "g"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert export_commands(dest) == [
        (dest / "onnx.json", f"siamkit export {dest} --branch g", [dest / "model.g.onnx"])
    ]
