"""``siamkit export --force`` without ``--int8`` left the int8 file of an earlier ``--int8``
export beside the new fp32 graph: quantised from the graph it replaced, it no longer matched
(``serve --runtime onnx-int8`` served the old model). The export removes it, says so in one
line, and drops it from ``onnx.json``; without --force it is refused like the fp32 file."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.export_cmd import export
from siamkit.export.sidecar import read_sidecar
from siamkit.models import Preprocess


def _invoke(*args: str):
    return CliRunner().invoke(export, [*args, "--no-progress"], catch_exceptions=False)


def _vector_model(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    enc = siamkit.encoders.create_encoder("mlp", in_features=6, hidden=[8])
    net = siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=Preprocess(input_shape=(6,)))
    return siamkit.save_model(net.eval(), folder)


def test_a_float_export_over_an_int8_one_removes_the_stale_int8_file(tmp_path):
    model = _vector_model(tmp_path / "vec", seed=0)
    res = _invoke(str(model), "--int8-mode", "dynamic")
    assert res.exit_code == 0, res.output
    assert (model / "model.int8.onnx").is_file()
    res = _invoke(str(model), "--force", "--opset", "18")  # the int8 file is of the opset-17 graph
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in model.glob("*.onnx")) == ["model.onnx"]
    assert list(read_sidecar(model)["exports"]) == ["model.onnx"]
    [said] = [line for line in res.output.splitlines() if line.startswith("Removed")]
    assert said.startswith(f"Removed {model / 'model.int8.onnx'}: the earlier --int8 export's")
    assert "export with --int8 to write a new one" in said


def test_json_names_the_removed_file_of_another_models_export_to_the_same_out(tmp_path):
    """The stale int8 file of another model: edge/m.int8.onnx was model a's, edge/m.onnx b's."""
    out = tmp_path / "edge" / "m.onnx"
    model = _vector_model(tmp_path / "a", seed=0)
    assert _invoke(str(model), "--int8-mode", "dynamic", "--out", str(out)).exit_code == 0
    res = _invoke(
        str(_vector_model(tmp_path / "b", seed=1)), "--out", str(out), "--force", "--json"
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["removed"] == [str(tmp_path / "edge" / "m.int8.onnx")]
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.onnx"]


def test_without_force_the_int8_file_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    # a relative path: the sentence started with it, capitalised ("Vec/model.int8.onnx")
    monkeypatch.chdir(tmp_path)
    model = _vector_model(Path("vec"), seed=0)
    assert _invoke(str(model), "--int8-mode", "dynamic").exit_code == 0
    (model / "model.onnx").unlink()  # only the int8 file is left
    res = _invoke(str(model))
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert (
        f"The int8 file of an earlier --int8 export, {Path('vec') / 'model.int8.onnx'}, already "
        "exists and would no longer match the new graph; pass --force to have it removed, or "
        "--out elsewhere"
    ) in said
    assert "to replace" not in said  # --force removes it: it is not replaced
    assert not (model / "model.onnx").exists() and (model / "model.int8.onnx").is_file()


def test_without_force_the_graph_and_the_int8_file_are_refused_as_replaced_and_removed(tmp_path):
    model = _vector_model(tmp_path / "vec", seed=0)
    assert _invoke(str(model), "--int8-mode", "dynamic").exit_code == 0
    res = _invoke(str(model))
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert (
        f"{model / 'model.onnx'} already exists; pass --force to replace it "
        f"({model / 'model.int8.onnx'}, the int8 file of an earlier --int8 export, which would "
        "no longer match the new graph, would be removed), or --out elsewhere"
    ) in said


def test_a_fresh_float_export_says_nothing_of_int8(tmp_path):
    model = _vector_model(tmp_path / "vec", seed=0)
    res = _invoke(str(model), "--json")
    assert res.exit_code == 0, res.output
    assert "removed" not in json.loads(res.stdout)


def test_a_failed_quantisation_leaves_no_int8_file_of_the_replaced_graph(tmp_path, monkeypatch):
    """--int8 --force over an earlier --int8 export: the fp32 graph is replaced first, and when
    the quantiser then failed, the earlier int8 file (of the graph replaced) stayed beside it
    and in onnx.json, so a device or serve --runtime onnx-int8 embedded with the old graph."""
    import siamkit.export.quantize as quantize

    model = _vector_model(tmp_path / "vec", seed=0)
    assert _invoke(str(model), "--int8-mode", "dynamic").exit_code == 0
    assert "model.int8.onnx" in read_sidecar(model)["exports"]

    def fails(*args: object, **kwargs: object) -> None:
        raise ValueError("the quantiser failed")

    monkeypatch.setattr(quantize, "quantize_onnx", fails)
    res = _invoke(str(model), "--int8-mode", "dynamic", "--force", "--opset", "18")
    assert res.exit_code == 1
    assert sorted(p.name for p in model.glob("*.onnx")) == ["model.onnx"]
    assert list(read_sidecar(model)["exports"]) == ["model.onnx"]
    assert read_sidecar(model)["exports"]["model.onnx"]["opset"] == 18  # the new graph
    assert res.output == (
        f"Error: the quantiser failed; {model / 'model.onnx'} was written without its int8 file, "
        f"and the int8 file beside it, {model / 'model.int8.onnx'}, was removed so that none is "
        "used with it: export again with --int8 --force once this is fixed\n"
    )


def test_a_half_twin_whose_f_quantisation_fails_keeps_no_int8_file_of_g(tmp_path, monkeypatch):
    """g's graph is quantised first: when f's quantisation then fails, g's new int8 file is
    removed too (half a pair, which a gallery or the service refuses), and said."""
    import siamkit.export.quantize as quantize
    from siamkit.models import HalfTwinNetwork

    torch.manual_seed(0)
    f, g = (siamkit.encoders.create_encoder("mlp", in_features=6, hidden=[8]) for _ in "fg")
    pre_f, pre_g = Preprocess(input_shape=(6,)), Preprocess(input_shape=(6,))
    net = HalfTwinNetwork(f, g, embedding_dim=4, preprocess_f=pre_f, preprocess_g=pre_g)
    model = siamkit.save_model(net.eval(), tmp_path / "ht")
    real, calls = quantize.quantize_onnx, []

    def second_fails(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[0])
        if len(calls) == 2:
            raise ValueError("the quantiser failed")
        return real(*args, **kwargs)

    monkeypatch.setattr(quantize, "quantize_onnx", second_fails)
    res = _invoke(str(model), "--int8-mode", "dynamic")
    assert res.exit_code == 1
    assert [Path(p).name for p in calls] == ["model.document.onnx", "model.onnx"]
    assert sorted(p.name for p in model.glob("*.onnx")) == ["model.document.onnx", "model.onnx"]
    assert sorted(read_sidecar(model)["exports"]) == ["model.document.onnx", "model.onnx"]
    assert f"the int8 file beside it, {model / 'model.document.int8.onnx'}, was removed" in (
        res.output
    )


def _fail_quantising_over_an_int8_export(tmp_path, monkeypatch, err):
    """An --int8 export, then --int8 --force --opset 18 whose quantiser raises ``err``."""
    import siamkit.export.quantize as quantize
    from siamkit.cli.main import cli

    model = _vector_model(tmp_path / "vec", seed=0)
    assert _invoke(str(model), "--int8-mode", "dynamic").exit_code == 0

    def fails(*args: object, **kwargs: object) -> None:
        raise err

    monkeypatch.setattr(quantize, "_run_quantizer", fails)
    res = CliRunner().invoke(
        cli, ["export", str(model), "--int8-mode", "dynamic", "--force", "--opset", "18",
              "--no-progress"],
    )  # fmt: skip
    assert sorted(p.name for p in model.glob("*.onnx")) == ["model.onnx"]
    assert list(read_sidecar(model)["exports"]) == ["model.onnx"]
    return model, res


def _ort_fail() -> Exception:
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail

    return Fail("[ONNXRuntimeError] : 1 : FAIL : bad graph")


@pytest.mark.parametrize(
    ("err", "said"),
    [
        (RuntimeError("quantiser blew up"), "quantisation failed (RuntimeError: quantiser blew up)"),
        (MemoryError(), "quantisation failed (MemoryError)"),
        (_ort_fail, "quantisation failed (Fail: [ONNXRuntimeError] : 1 : FAIL : bad graph)"),
        (OSError(errno.ENOSPC, "No space left on device", "/x/y/.m.int8.onnx.tmp"),
         "the disk is full (no space left on device) writing in /x/y; free some space"),
    ],
)  # fmt: skip
def test_any_failure_of_the_quantiser_says_the_int8_file_was_removed(
    tmp_path, monkeypatch, err, said
):
    """Only a ValueError, TypeError or FileNotFoundError said it; onnxruntime's own errors
    (plain Exceptions), a RuntimeError, MemoryError or OSError removed the earlier int8 file
    without a word (a bare traceback)."""
    model, res = _fail_quantising_over_an_int8_export(
        tmp_path, monkeypatch, err() if callable(err) else err
    )
    assert res.exit_code == 1, res.output
    assert res.output.startswith(f"Error: {said}")
    assert res.output.endswith(
        f"; {model / 'model.onnx'} was written without its int8 file, and the int8 file beside "
        f"it, {model / 'model.int8.onnx'}, was removed so that none is used with it: export "
        "again with --int8 --force once this is fixed\n"
    )


def test_ctrl_c_while_quantising_says_the_int8_file_was_removed(tmp_path, monkeypatch):
    """Ctrl-C gave only "interrupted (Ctrl-C) before the command finished; run it again", the
    earlier int8 file removed unsaid; the line naming it now comes first, then that one."""
    model, res = _fail_quantising_over_an_int8_export(tmp_path, monkeypatch, KeyboardInterrupt())
    assert res.exit_code == 130, res.output
    assert res.stderr == (
        f"{model / 'model.onnx'} was written without its int8 file, and the int8 file beside it, "
        f"{model / 'model.int8.onnx'}, was removed so that none is used with it: export again "
        "with --int8 --force\n"
        "interrupted (Ctrl-C) before the command finished; run it again\n"
    )


def test_a_users_file_at_the_int8_name_is_kept_and_named_not_removed(tmp_path):
    """--force without --int8 removes the int8 file only where it is the one an earlier --int8
    export wrote (the SHA-256 onnx.json records): a file of the user's put at its name is kept
    and named, as a save keeps one at a name onnx.json lists (s64 c2 item 2)."""
    model = _vector_model(tmp_path / "vec", seed=0)
    assert _invoke(str(model), "--int8-mode", "dynamic").exit_code == 0
    (model / "model.int8.onnx").write_bytes(b"my own int8 graph")
    res = _invoke(str(model), "--force", "--opset", "18")
    assert res.exit_code == 0, res.output
    assert (model / "model.int8.onnx").read_bytes() == b"my own int8 graph"
    assert list(read_sidecar(model)["exports"]) == ["model.onnx"]  # it lists no int8 file now
    assert not [line for line in res.output.splitlines() if line.startswith("Removed")]
    said = " ".join(res.stderr.split())
    assert said == (
        f"Kept {model / 'model.int8.onnx'}: it is not the int8 file an earlier --int8 export "
        "wrote (not of the SHA-256 an onnx.json beside it records, nor an int8 graph of "
        "siamkit's), so it is taken as yours; it would not match the new graph: move it "
        "elsewhere, or delete it"
    )


def test_without_force_a_users_file_at_the_int8_name_is_not_refused(tmp_path):
    """Only an earlier export's int8 file is refused without --force: a file of the user's at
    that name (no record lists it, and it is no int8 graph of siamkit's) is not one, and is
    kept."""
    model = _vector_model(tmp_path / "vec", seed=0)
    (model / "model.int8.onnx").write_bytes(b"mine")
    res = _invoke(str(model))
    assert res.exit_code == 0, res.output
    assert (model / "model.int8.onnx").read_bytes() == b"mine"
    assert res.stderr.startswith(f"Kept {model / 'model.int8.onnx'}: it is not the int8 file")


def test_another_models_int8_graph_beside_a_record_that_lists_it_not_is_kept(tmp_path):
    """In a model folder whose onnx.json does not list model.int8.onnx, a siamkit int8 graph
    there (a copy of another model's export) is the user's, kept and named: --force deleted it
    as "the earlier --int8 export's" by its metadata, a rule meant only for --out into a folder
    with no record (s64_r2 finding 1)."""
    other = _vector_model(tmp_path / "other", seed=1)
    assert _invoke(str(other), "--int8-mode", "dynamic").exit_code == 0
    model = _vector_model(tmp_path / "vec", seed=0)
    assert _invoke(str(model)).exit_code == 0  # onnx.json lists model.onnx alone
    copy = (other / "model.int8.onnx").read_bytes()
    (model / "model.int8.onnx").write_bytes(copy)
    res = _invoke(str(model), "--force", "--opset", "18")
    assert res.exit_code == 0, res.output
    assert (model / "model.int8.onnx").read_bytes() == copy
    assert not [line for line in res.output.splitlines() if line.startswith("Removed")]
    assert res.stderr.startswith(f"Kept {model / 'model.int8.onnx'}: it is not the int8 file")
