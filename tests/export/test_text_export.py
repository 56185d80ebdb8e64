"""``siamkit export`` of a text bundle: the model kind picks the folder export (encoder graph,
int8 graph, tokenizer), and the torch-free runtime reproduces the PyTorch embeddings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("transformers", reason="the text extra is not installed")
pytest.importorskip("tokenizers")

import siamkit
from siamkit.cli.main import cli

# not the export's own probe texts: an independent check of the written files
TEXTS = [
    "Please reset my password; I forgot it after the holidays.",
    "The meeting room projector shows no picture.",
    "Kann ich mein Passwort zurücksetzen?",
    "refund",
    " ".join(f"Item {i}: the shipment arrived late and two boxes were damaged." for i in range(50)),
]
# dynamic int8 with per-channel weight scales: lowest cosine measured on TEXTS 0.988 (per-tensor
# scales, the earlier export, went down to 0.93 on Lee sentences and 0.85 on "ok")
INT8_MIN_COSINE = 0.98


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    from siamkit.applications.text import load_text_model

    model = load_text_model()
    bundle = siamkit.save_model(model, tmp_path_factory.mktemp("run") / "model", threshold=0.2)
    model.threshold = None  # save_model sets it on the model object too
    return model, Path(bundle)


@pytest.fixture(scope="module")
def exported(saved: tuple[Any, Path]) -> tuple[Any, Path, dict[str, Any]]:
    model, bundle = saved
    res = CliRunner().invoke(cli, ["export", str(bundle), "--format", "onnx", "--int8", "--json"])
    assert res.exit_code == 0, res.output
    return model, Path(bundle), json.loads(res.stdout)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_export_of_a_text_bundle_writes_graphs_and_tokenizer(exported):
    from siamkit.applications.text.onnx import TextOnnxEmbedder

    model, bundle, doc = exported
    folder = bundle / "onnx"
    files = doc["files"]
    assert [f["precision"] for f in files] == ["fp32", "int8"]
    assert files[0]["path"] == str(folder / "text.onnx") and files[1]["int8_mode"] == "dynamic"
    assert files[0]["min_cosine"] >= 0.9999 and files[0]["max_abs_diff"] <= 1e-4
    assert (folder / "tokenizer" / "tokenizer.json").is_file()
    assert os.path.getsize(folder / "text.int8.onnx") < 0.5 * os.path.getsize(folder / "text.onnx")
    want = model.embed(TEXTS).numpy()
    fp32 = TextOnnxEmbedder(folder).embed(TEXTS)
    int8 = TextOnnxEmbedder(folder, int8=True).embed(TEXTS)
    assert _cosines(fp32, want).min() >= 0.9999
    assert np.abs(fp32 - want).max() <= 1e-4
    assert _cosines(int8, want).min() >= INT8_MIN_COSINE
    assert TextOnnxEmbedder(folder).threshold == 0.2  # the bundle's calibrated threshold
    # the int8 graph keeps the ranking of a query's neighbours in this small set
    assert np.argsort(-(int8 @ int8[0]))[:2].tolist() == np.argsort(-(want @ want[0]))[:2].tolist()


def test_existing_export_is_kept_without_force(exported):
    _, bundle, _ = exported
    before = (bundle / "onnx" / "text.onnx").stat().st_mtime_ns
    res = CliRunner().invoke(cli, ["export", str(bundle), "--int8"])
    assert res.exit_code == 2 and "already exists; pass --force" in res.output
    assert (bundle / "onnx" / "text.onnx").stat().st_mtime_ns == before
    # --out naming the existing folder gets the same answer (click refused it as "a directory")
    res = CliRunner().invoke(cli, ["export", str(bundle), "--out", str(bundle / "onnx")])
    assert res.exit_code == 2 and "already exists; pass --force" in res.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--int8-mode", "static"], "activations quantised per token"),
        (["--int8", "--calib-data", "fashion-mnist"], "--calib-data is for image models"),
        (["--input-shape", "1,28,28"], "--input-shape is for image models"),
        (["--int8", "--calib-size", "50"], "--calib-size is for image models"),
        (["--opset", "18"], "--opset 18 is for image models"),
    ],
)
def test_image_only_options_are_refused_for_text(saved, tmp_path, args, words):
    _, bundle = saved
    out = tmp_path / "edge"
    res = CliRunner().invoke(cli, ["export", str(bundle), "--out", str(out), *args])
    assert res.exit_code == 2 and words in res.output
    assert not out.exists()


@pytest.mark.parametrize("name", ["t.onnx", "T.ONNX"])
def test_an_out_ending_in_onnx_is_refused_for_a_text_model(saved, tmp_path, name):
    """A text model exports a folder: --out t.onnx made a folder named t.onnx."""
    _, bundle = saved
    out = tmp_path / "edge" / name
    res = CliRunner().invoke(cli, ["export", str(bundle), "--out", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert f"{out} ends in .onnx, but a text model exports a folder" in res.output
    assert f"give --out a folder, e.g. {out.with_suffix('')}" in res.output
    assert list(tmp_path.iterdir()) == []


def test_an_export_failing_in_torch_removes_the_folders_it_made(saved, tmp_path, monkeypatch):
    """A text export failing inside torch.onnx.export left the empty parents of --out behind,
    after torch's traceback."""
    import torch

    def fails(*args, **kwargs):
        raise RuntimeError("an operator torch cannot export")

    monkeypatch.setattr(torch.onnx, "export", fails)
    _, bundle = saved
    res = CliRunner().invoke(cli, ["export", str(bundle), "--out", str(tmp_path / "a" / "b")])
    assert res.exit_code == 1, res.output
    assert list(tmp_path.iterdir()) == []
    # and the error is one line after the step it failed in, not torch's traceback
    assert res.output.strip().splitlines() == [
        f"loading the model from {bundle} ...",
        "tracing the text encoder to ONNX (opset 17) ...",
        "Error: torch.onnx.export could not export this text model's encoder (opset 17): "
        "RuntimeError: an operator torch cannot export; the model still runs with PyTorch (the "
        "text commands' and `siamkit serve`'s default, --runtime torch)",
    ]


def test_a_failed_parity_check_writes_nothing(saved, tmp_path, monkeypatch):
    from siamkit.applications.text import onnx_export

    model, _ = saved
    monkeypatch.setattr(onnx_export, "onnx_parity", lambda *a, **k: (0.5, 0.9))
    with pytest.raises(ValueError, match="nothing was written"):
        onnx_export.export_text_bundle(model, tmp_path / "edge")
    assert list(tmp_path.iterdir()) == []  # no folder, no temporary left behind


def test_text_dedup_runs_on_the_bundles_own_export(exported, tmp_path):
    """`siamkit text dedup --model BUNDLE --runtime onnx-int8` finds BUNDLE/onnx/ by itself and
    uses the bundle's saved threshold (0.2 as a distance: similarity >= 0.8)."""
    _, bundle, _ = exported
    rows = [{"id": f"t{i}", "text": t} for i, t in enumerate(TEXTS)]
    rows.append({"id": "copy", "text": TEXTS[0].replace("holidays", "holiday")})
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "g.jsonl"
    args = ["text", "dedup", str(corpus), "--out", str(out), "--model", str(bundle), "--json"]
    res = CliRunner().invoke(cli, [*args, "--runtime", "onnx-int8"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["runtime"] == "onnx-int8" and doc["min_similarity"] == pytest.approx(0.8)
    assert doc["threshold_source"] == "the model's calibrated threshold"
    groups = [json.loads(x) for x in out.read_text().splitlines()]
    assert [sorted(m["id"] for m in g["members"]) for g in groups] == [["copy", "t0"]]


def test_a_text_export_folder_given_as_a_model_names_the_model_to_give(tmp_path):
    """`siamkit text export --out edge/` then `siamkit serve edge/ --runtime onnx-int8` (or any
    command taking a model) said 'edge has no siamkit.json, so it is not a siamkit model
    folder: give the folder `siamkit train --out OUT` writes', not that edge is an export and
    how the service runs one. MODEL/onnx names MODEL."""
    from siamkit.export.bundle import ModelFileError, read_model_config

    edge = tmp_path / "edge"
    edge.mkdir()
    (edge / "text_onnx.json").write_text("{}")
    with pytest.raises(ModelFileError) as err:
        read_model_config(edge)
    assert str(err.value) == (
        f"{edge} is a text model's ONNX export, not a model folder: give the siamkit model "
        "folder it was exported from, and to serve its export write it there with `siamkit "
        "export MODEL --format onnx --int8`, then `siamkit serve MODEL --runtime onnx-int8`"
    )
    model = tmp_path / "run" / "model"
    (model / "onnx").mkdir(parents=True)
    (model / "siamkit.json").write_text("{}")
    (model / "onnx" / "text_onnx.json").write_text("{}")
    with pytest.raises(ModelFileError) as err:
        read_model_config(model / "onnx")
    assert str(err.value) == (
        f"{model / 'onnx'} is the ONNX export of the model {model}, not a model folder: give "
        f"{model} (siamkit serve runs this export with --runtime onnx or onnx-int8)"
    )


def test_the_text_exports_record_is_named_once():
    """applications/text/onnx.META_NAME repeated export/bundle.TEXT_EXPORT_META ('text_onnx.json'):
    renaming one would leave the other recognising no export. One definition, beside onnx.json in
    export/sidecar (no torch, which the text application's ONNX runtime must not need)."""
    import ast

    from siamkit.applications.text import onnx
    from siamkit.export import bundle, sidecar

    src = Path(siamkit.__file__).parent
    spelled = [
        str(path.relative_to(src))
        for path in sorted(src.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value == "text_onnx.json"
    ]
    assert spelled == ["export/sidecar.py"]
    assert onnx.META_NAME is sidecar.TEXT_EXPORT_META is bundle.TEXT_EXPORT_META
