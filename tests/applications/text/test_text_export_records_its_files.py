"""A text export's ``text_onnx.json`` records the SHA-256 of each file it wrote, as ``onnx.json``
does an image export's, so that a save or calibrate that removes the export keeps a file of the
user's put at one of its names (s64 c2 item 1: they were removed by their names)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="the text extra is not installed")
pytest.importorskip("onnx", reason="the onnx extra is not installed")

from siamkit.export.bundle import remove_stale_exports, save_model
from siamkit.export.sidecar import TEXT_DIGESTS_KEY, entry_digest


def test_a_text_export_records_its_files_and_a_removal_keeps_a_users_one(
    tiny_hf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.applications.text.onnx_export import export_text_bundle

    net = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
    dest = save_model(net, tmp_path / "model", threshold=0.3)
    out = dest / "onnx"
    export_text_bundle(net, out)
    recorded = json.loads((out / "text_onnx.json").read_text())[TEXT_DIGESTS_KEY]
    assert recorded == {n: entry_digest(out / n) for n in ("text.onnx", "tokenizer")}
    (out / "text.onnx").write_bytes(b"my own graph")  # a file of the user's at the graph's name
    capsys.readouterr()
    assert remove_stale_exports(dest, threshold=0.4) == [out / "tokenizer", out / "text_onnx.json"]
    assert sorted(p.name for p in out.iterdir()) == ["text.onnx"]
    assert (out / "text.onnx").read_bytes() == b"my own graph"
    assert capsys.readouterr().err.startswith(f"Kept {out}/text.onnx: the model's text export")


def test_the_command_for_a_text_export_outside_model_onnx_writes_it_again(
    tiny_hf: Path, tmp_path: Path
) -> None:
    """A text export written with `--out MODEL/edge`: the command the "Removed ..." line of
    calibrate names for it (export_commands) has that --out, and writes it again there with the
    new threshold (it had no test: s63_m3, s64 c2 item 5)."""
    import shlex

    from click.testing import CliRunner

    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.applications.text.onnx_export import export_text_bundle
    from siamkit.cli.main import cli
    from siamkit.export.bundle import export_commands
    from siamkit.export.threshold_file import write_threshold

    net = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
    dest = save_model(net, tmp_path / "model", threshold=0.3)
    export_text_bundle(net, dest / "edge")
    [(record, command, files)] = export_commands(dest)
    assert (record, command, files) == (
        dest / "edge" / "text_onnx.json",
        f"siamkit export {dest} --out {dest / 'edge'}",
        [dest / "edge"],
    )
    write_threshold(dest, 0.4)
    assert remove_stale_exports(dest) == [dest / "edge"]
    res = CliRunner().invoke(cli, shlex.split(command)[1:], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads((dest / "edge" / "text_onnx.json").read_text())["threshold"] == 0.4
