"""`siamkit export` of a text model walked as a new user: ~20 s of tracing, quantising and parity
checks with no line at all, a --help describing image models only ((N, C, H, W), onnx.json),
and "holds no exported text.onnx" telling to run `siamkit export MODEL ...` with the literal word
MODEL where the model's folder was known. A tiny random BERT stands in for MiniLM."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

import siamkit
from siamkit.cli import _text_common
from siamkit.cli.main import cli

STEPS = (
    "tracing the text encoder to ONNX (opset 17) ...",
    "quantising the graph to int8 (dynamic: weights per channel, activations per token) ...",
    "checking the fp32 graph against PyTorch on 8 probe texts ...",
    "checking the int8 graph against PyTorch on 8 probe texts ...",
)


@pytest.fixture(scope="module")
def tiny(tiny_hf: Path) -> Any:
    from siamkit.applications.text import load_text_model

    return load_text_model(tiny_hf)


@pytest.fixture
def bundle(tiny: Any, tmp_path: Path) -> Path:
    return Path(siamkit.save_model(tiny, tmp_path / "model"))


# ---------------------------------------------------------------- steps
def test_a_text_export_says_each_long_step_on_stderr(bundle) -> None:
    res = CliRunner().invoke(cli, ["export", str(bundle), "--format", "onnx", "--int8", "--json"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        f"loading the model from {bundle} ...",
        *STEPS,
        f"writing {bundle / 'onnx'} ...",
    ], res.stderr
    assert [f["precision"] for f in json.loads(res.stdout)["files"]] == ["fp32", "int8"]
    quiet = CliRunner().invoke(
        cli, ["export", str(bundle), "--format", "onnx", "--force", "--no-progress"]
    )
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.output


def test_text_export_says_it_loads_the_model_before_the_slow_steps(tiny_hf, tmp_path) -> None:
    """`siamkit text export` said nothing while it loaded the model (the slowest step for a real
    one); it now says so first, as the image export does, and names the folder it writes."""
    edge = tmp_path / "edge"
    res = CliRunner().invoke(cli, ["text", "export", "--model", str(tiny_hf), "--out", str(edge)])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        f"loading the model from {tiny_hf} ...",
        STEPS[0],
        STEPS[2],
        f"writing {edge} ...",
    ], res.stderr


def test_a_step_line_is_written_only_while_progress_is_on() -> None:
    from siamkit import progress as prog

    was = prog.is_enabled()
    out = io.StringIO()
    try:
        prog.set_enabled(False)
        prog.step("tracing", stream=out)
        assert out.getvalue() == ""
        prog.set_enabled(True)
        prog.step("tracing", stream=out)
        assert out.getvalue() == "tracing ...\n"
    finally:
        prog.set_enabled(was)


# ---------------------------------------------------------------- help
def test_the_export_help_says_what_a_text_export_takes_and_writes() -> None:
    res = CliRunner().invoke(cli, ["export", "--help"])
    words = " ".join(res.output.split())
    assert res.exit_code == 0 and "An image model's ONNX file takes the same (N, C, H, W)" in words
    assert "(N, L) int64 token ids and attention mask" in words
    assert "text_onnx.json (window, threshold, fingerprint) instead of onnx.json" in words


# ---------------------------------------------------------------- missing export
def test_a_missing_export_names_the_saved_models_folder(bundle, tiny, monkeypatch) -> None:
    from siamkit.applications.text.onnx_model import load_text_onnx_model

    with pytest.raises(ValueError) as err:
        load_text_onnx_model(bundle)
    assert str(err.value) == (
        f"{bundle / 'onnx'} holds no exported text.onnx; export the model first with "
        f"`siamkit export {bundle} --format onnx --int8`"
    )
    monkeypatch.setattr(_text_common, "_model", lambda path, device=None: tiny)
    corpus = bundle.parent / "c.txt"
    corpus.write_text("the printer is out of toner\nvpn login fails at home\n")
    res = CliRunner().invoke(
        cli,
        ["text", "enroll", str(corpus), "--gallery", str(bundle.parent / "g.db"),
         "--model", str(bundle), "--runtime", "onnx-int8"],
    )  # fmt: skip
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert f"`siamkit export {bundle} --format onnx --int8`" in res.output
    assert "MODEL" not in res.output


def test_a_missing_export_names_each_model_it_can(tiny, tiny_hf, tmp_path) -> None:
    from siamkit.applications.text.onnx import open_text_runtime

    where = tmp_path / "edge"

    def said(**kwargs: Any) -> str:
        with pytest.raises(ValueError) as err:
            open_text_runtime(tiny, where, int8=True, **kwargs)
        return str(err.value).split("; export the model first with ", 1)[1]

    assert said(model_path=tiny_hf) == (
        f"`siamkit text export --model {tiny_hf} --out {where} --int8`"
    )  # a Hugging Face folder: `siamkit export` reads only saved siamkit models
    assert said(default_model=True) == (
        f"`siamkit text export --out {where} --int8` (it exports the default model)"
    )
    unknown = said()  # the folder is not known here: a placeholder that reads as one
    assert "MODEL" not in unknown and unknown.count("<model folder>") == 3, unknown
    assert f"`siamkit export <model folder> --format onnx --int8 --out {where}`" in unknown


def test_an_export_elsewhere_of_another_model_names_the_folder_and_force(
    bundle, tiny, tiny_hf, tmp_path
) -> None:
    from siamkit.applications.text.onnx import open_text_runtime
    from siamkit.applications.text.onnx_export import export_text_bundle

    where = tmp_path / "edge"
    export_text_bundle(tiny, where)
    meta = json.loads((where / "text_onnx.json").read_text())
    (where / "text_onnx.json").write_text(json.dumps({**meta, "fingerprint": "0" * 64}))
    with pytest.raises(ValueError) as err:
        open_text_runtime(tiny, where, int8=False, model_path=bundle)
    assert str(err.value).endswith(
        f"`siamkit export {bundle} --format onnx --int8 --out {where} --force`"
    ), err.value


def test_an_export_folder_given_as_a_model_is_named_an_export(tmp_path, monkeypatch) -> None:
    """`siamkit text export --model edge/` (an export: graphs, text_onnx.json, tokenizer/) said
    edge had 'no siamkit.json, config.json, tokenizer or weights', though its tokenizer is there;
    it now says edge is an export and what to give (MODEL/onnx names MODEL)."""
    monkeypatch.chdir(tmp_path)
    edge = Path("edge")
    (edge / "tokenizer").mkdir(parents=True)
    (edge / "tokenizer" / "tokenizer.json").write_text("{}")
    for name in ("text_onnx.json", "text.onnx", "text.int8.onnx"):
        (edge / name).write_text("{}")
    res = CliRunner().invoke(cli, ["text", "export", "--model", "edge", "--out", "e2"])
    assert res.exit_code == 1 and not Path("e2").exists(), res.output
    assert res.output == (  # the step line of 5663f43 first (stderr, which the runner mixes in)
        "loading the model from edge ...\n"
        "Error: edge is a text model's ONNX export, not a model: give the model it was exported "
        "from (text dedup, plagiarism, enroll, identify and verify run this export with "
        "--runtime onnx-int8 --onnx-dir edge)\n"
    )
    (edge / "text.int8.onnx").unlink()
    res = CliRunner().invoke(cli, ["text", "similarity", "a", "b", "--model", "edge"])
    assert "with --runtime onnx --onnx-dir edge)" in res.output, res.output
    model = Path("run") / "model"
    (model / "onnx").mkdir(parents=True)
    (model / "siamkit.json").write_text("{}")
    (model / "onnx" / "text_onnx.json").write_text("{}")
    res = CliRunner().invoke(cli, ["text", "export", "--model", str(model / "onnx"), "--out", "e3"])
    assert res.exit_code == 1 and not Path("e3").exists(), res.output
    assert res.output == (
        f"loading the model from {model / 'onnx'} ...\n"
        f"Error: {model / 'onnx'} is the ONNX export of the model {model}, not a model: give "
        f"{model} (text dedup, plagiarism, enroll, identify and verify run this export with "
        "--runtime onnx or onnx-int8; text similarity runs the model with PyTorch)\n"
    )
